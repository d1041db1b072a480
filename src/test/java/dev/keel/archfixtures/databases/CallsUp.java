package dev.keel.archfixtures.databases;

import dev.keel.archfixtures.herokuapi.Edge;
import dev.keel.archfixtures.lifecycle.Orchestration;

/** A capability that calls the orchestration above it and an edge. */
public final class CallsUp {
    void run(Orchestration orchestration, Edge edge) {
        orchestration.run();
        edge.serve();
    }
}
