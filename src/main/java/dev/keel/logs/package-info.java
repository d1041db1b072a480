/** A database's server logs through the API: the newest entries as JSON, or followed as server-sent events. */
package dev.keel.logs;
