/** Database lifecycle and its state machine, plans, and the /v1/databases API. */
package dev.keel.databases;
