/** The database record and its state machine, plans, lookups, views and settings, and the /v1/databases reads. */
package dev.keel.databases;
