/** Keel's problem types and their rendering as RFC 9457 {@code application/problem+json}. */
package dev.keel.problems;
