package dev.keel.storage;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An S3-compatible object store, the one place archives and backups are kept. Keys are
 * {@code /}-separated; metadata keys are lower case. Failures to reach the store are
 * {@link StorageException}s; callers retry or report, never assume.
 */
public interface ObjectStore {
    /** Stores {@code bytes} under {@code key}, replacing any object there. Returns once the store has it. */
    void put(String key, byte[] bytes, Map<String, String> metadata);

    /** Starts writing an object of unknown length in parts (see {@link ObjectUpload}). */
    ObjectUpload upload(String key, Map<String, String> metadata);

    /** The object's bytes; the caller closes the stream. Throws {@link StorageException.NotFound} when there is none. */
    InputStream get(String key);

    /** The object's bytes and metadata in one call. Throws {@link StorageException.NotFound} when there is none. */
    StoredObject read(String key);

    /** The object's size and metadata, or empty when there is none. */
    Optional<ObjectInfo> head(String key);

    /**
     * Makes an object found in the store (by {@link #head}) as sure to survive a power cut as one
     * {@link #put} just stored: a writer stopped or killed between its put and that (the embedded
     * store's fsync) may have left it. A no-op for a store that is durable once it answers.
     */
    void settle(String key);

    /** Every object whose key starts with {@code prefix}, in key order. */
    List<ObjectInfo> list(String prefix);

    /** Removes the objects; keys that do not exist are no error. */
    void delete(List<String> keys);

    /** Discards uploads under {@code prefix} that were started and never completed (a writer died). */
    int abortIncompleteUploads(String prefix);

    /** Where the store is, for people (no secrets). */
    String describe();
}
