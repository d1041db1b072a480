package dev.keel.databases;

/**
 * Published (synchronously) once a new database becomes {@code available}, and again when a
 * follower is unfollowed: capabilities start their part, such as its first backup.
 */
public record DatabaseAvailable(Database database) {
}
