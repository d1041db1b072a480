/** Dataclips: saved read-only queries run as a read-only role, their versions and results, and their share links as HTML, CSV and JSON. */
package dev.keel.dataclips;
