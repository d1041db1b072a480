package dev.keel.archfixtures.lifecycle;

/** Orchestration that only the edges may call. */
public final class Orchestration {
    public void run() {
    }
}
