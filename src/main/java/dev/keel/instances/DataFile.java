package dev.keel.instances;

/** An entry of an instance's data directory: its path relative to the directory, its size when listed. */
public record DataFile(String path, long size, boolean directory) {
}
