package dev.keel.apps;

import dev.keel.databases.Database;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A database's Heroku-style attachment name, {@code HEROKU_POSTGRESQL_<COLOUR>}: chosen once,
 * the first colour no other database of the team has (then {@code AMBER_2}, ...).
 */
@Singleton
final class Colors {
    static final String PREFIX = "HEROKU_POSTGRESQL_";
    private static final List<String> COLORS = List.of("AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COBALT",
            "COPPER", "CRIMSON", "CYAN", "GOLD", "GRAY", "GREEN", "IVORY", "JADE", "LIME", "MAGENTA", "MAROON", "MAUVE", "NAVY", "OLIVE",
            "ONYX", "ORANGE", "PINK", "PUCE", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "TOPAZ", "VIOLET", "WHITE", "YELLOW");

    private final AppRepository repository;

    Colors(AppRepository repository) {
        this.repository = repository;
    }

    /** The database's colour attachment name, chosen now if it has none; {@code tx} holds the attachments lock. */
    String of(DSLContext tx, Database database) {
        String color = repository.color(tx, database.id()).orElseGet(() -> {
            Set<String> taken = new HashSet<>(repository.colorsTaken(tx, database.teamId()));
            for (int round = 1; ; round++) {
                for (String candidate : COLORS) {
                    String name = round == 1 ? candidate : candidate + "_" + round;
                    if (!taken.contains(name)) {
                        repository.setColor(tx, database.id(), database.teamId(), name);
                        return name;
                    }
                }
            }
        });
        return PREFIX + color;
    }
}
