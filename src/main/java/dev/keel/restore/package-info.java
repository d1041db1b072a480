/** Restoring from the archive: unpacking base backups and fetching WAL, every byte checked against its recorded checksum. */
package dev.keel.restore;
