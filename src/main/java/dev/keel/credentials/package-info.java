/** Postgres roles with passwords, connection URLs, and the sealing of secrets at rest. */
package dev.keel.credentials;
