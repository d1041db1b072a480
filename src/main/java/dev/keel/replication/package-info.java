/** Followers (streaming read replicas) and, on premium plans, hot standbys with failover: slots, promotion, lag. */
package dev.keel.replication;
