/** Use cases that orchestrate capabilities over a database's life; here, online major-version upgrades. */
package dev.keel.lifecycle;
