package dev.keel.storage;

import java.time.Instant;
import java.util.Map;

/** An object as listed or headed: its key, size, last change and user metadata (keys lower case). */
public record ObjectInfo(String key, long size, Instant lastModified, Map<String, String> metadata) {
}
