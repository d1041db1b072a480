package dev.keel.databases;

import java.util.UUID;

/**
 * Published (synchronously) while a database is deleted, after its instances are gone and before
 * its row is: each capability removes what it keeps for the database. A listener that throws
 * fails the deletion, which is resumed at Keel's next start, so listeners must be idempotent.
 */
public record DatabaseRemoving(UUID databaseId) {
}
