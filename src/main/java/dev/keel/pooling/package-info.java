/** Connection pooling: a PgBouncer per database, in transaction mode, that follows the database's primary. */
package dev.keel.pooling;
