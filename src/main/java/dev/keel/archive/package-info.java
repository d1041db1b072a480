/** Continuous protection: WAL archiving, base backups, retention and continuity checks, and what /archive reports. */
package dev.keel.archive;
