package dev.keel.nodes;

import io.micronaut.core.annotation.Nullable;

import java.util.Set;

/**
 * What a database of a plan takes of its node, as placement counts it: the memory each of its
 * servers counts for against the node's memory budget ({@code null}: a warm-pool instance, not yet
 * any database's), and how many servers it starts with. The plans are the databases' business;
 * placement only adds these figures up.
 */
public interface PlanFootprint {
    long memoryMb(@Nullable String plan);

    int servers(String plan);

    /** The plans whose databases have a hot standby ({@link #servers} 2). */
    Set<String> withStandby();
}
