package dev.keel.databases;

import dev.keel.operations.Operation;

/** A database change that was accepted, and the operation carrying it out. */
public record Accepted(Database database, Operation operation) {
}
