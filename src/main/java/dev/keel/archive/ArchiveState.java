package dev.keel.archive;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * How a database's archiving goes.
 * <pre>
 *   ok ◄──► failing        (the store stopped answering / answers again)
 *   ok, failing ──► conflict   (different bytes already archived under a name: stays until an operator acts)
 * </pre>
 */
public enum ArchiveState {
    OK, FAILING, CONFLICT;

    private Set<ArchiveState> next() {
        return switch (this) {
            case OK -> EnumSet.of(FAILING, CONFLICT);
            case FAILING -> EnumSet.of(OK, CONFLICT);
            case CONFLICT -> EnumSet.noneOf(ArchiveState.class);
        };
    }

    public boolean canBecome(ArchiveState target) {
        return next().contains(target);
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static ArchiveState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
