/**
 * Use cases that orchestrate capabilities over a database's life, above restore, replication and
 * archive: creating a database (plain, fork, rollback, follower), deleting it, changing its plan,
 * unfollowing, and the {@code /v1/databases} calls that start them; the {@code /v1/databases}
 * reads, whose views show a follower's lag and the HA status; a database's settings, applied to
 * its server and its followers'; online major-version upgrades; and the primaries of a node an
 * operator forgot, made anew elsewhere from their archives.
 */
package dev.keel.lifecycle;
