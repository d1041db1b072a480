package dev.keel.restore;

/**
 * Where a restore reports how far it is: its step (one of these sentences, or the instance's
 * reservation before them) and how much of it is done, in {@code unit}s.
 */
public interface RestoreProgress {
    String RESTORING = "restoring the base backup";
    String REPLAYING = "replaying WAL";
    String PROMOTING = "promoting";
    String STREAMING = "streaming from the leader";

    void report(String step, long done, long total, String unit);
}
