/** Micrometer meters and the per-database collector behind {@code GET /metrics} (Prometheus' text format). */
package dev.keel.metrics;
