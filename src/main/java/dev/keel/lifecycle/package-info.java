/**
 * Use cases that orchestrate capabilities over a database's life: online major-version upgrades,
 * and the primaries of a node an operator forgot, made anew elsewhere from their archives.
 */
package dev.keel.lifecycle;
