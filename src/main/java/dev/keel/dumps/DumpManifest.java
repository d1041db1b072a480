package dev.keel.dumps;

import io.micronaut.serde.annotation.Serdeable;

/** What is known of a stored dump, beside it in the bucket: {@code sha256} and {@code size} of the dump object's bytes. */
@Serdeable
record DumpManifest(String transfer, String database, int major, String tool, long size, String sha256) {
}
