/** Keel: the control plane of a self-hosted managed-Postgres service. This package starts it and holds what every capability shares. */
package dev.keel;
