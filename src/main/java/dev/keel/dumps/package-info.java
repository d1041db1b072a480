/** Logical backups: pg_dump files streamed to the object store, their downloads, restores, schedules and retention. */
package dev.keel.dumps;
