/** Keel's catalog: the Postgres database holding Keel's own state, embedded or external, its schema and jOOQ access. */
package dev.keel.catalog;
