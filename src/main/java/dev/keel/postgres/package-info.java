/** Postgres server binaries per major version, the processes that run them, and their configuration files. */
package dev.keel.postgres;
