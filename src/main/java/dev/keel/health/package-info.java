/** {@code GET /health}: whether this Keel node can serve, for load balancers and operators. */
package dev.keel.health;
