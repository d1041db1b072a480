package dev.keel.nodes;

import java.util.Locale;

/**
 * What a node is, as {@code GET /v1/nodes} shows it. Not stored: it follows from the node's row
 * each time it is read, so a node that dies becomes {@code lost} without anyone writing that down.
 * <pre>
 *   active --drain--> draining --activate--> active (or lost, without a heartbeat)
 *   active --no heartbeat for lost-after--> lost --heartbeat--> active
 *   lost --forget--> forgotten --heartbeat--> active (or draining)
 * </pre>
 * A drained node stays {@code draining} when it stops heartbeating: an operator drains a node to take
 * it down, and its stop is then expected, not news (its last heartbeat still shows). A node an
 * operator forgot ({@code POST /v1/nodes/{name}/forget}: its databases' primaries were made anew
 * elsewhere) stays {@code forgotten} until it heartbeats again, when it comes back empty-handed.
 */
public enum NodeState {
    ACTIVE, DRAINING, LOST, FORGOTTEN;

    static NodeState of(boolean drained, boolean forgotten, boolean lost) {
        if (forgotten) {
            return FORGOTTEN;
        }
        if (drained) {
            return DRAINING;
        }
        return lost ? LOST : ACTIVE;
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }
}
