/**
 * The node registry: each Keel node registers and heartbeats in the catalog, is shown active,
 * draining or lost, and is kept out of placement while drained.
 */
package dev.keel.nodes;
