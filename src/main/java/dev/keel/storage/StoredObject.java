package dev.keel.storage;

import java.util.Map;

/** An object's whole content with its user metadata (keys lower case), as one GET returns them. */
public record StoredObject(String key, byte[] bytes, Map<String, String> metadata) {
}
