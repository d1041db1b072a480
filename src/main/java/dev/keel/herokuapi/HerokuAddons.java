package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.apps.Attachments;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * Finding add-ons and attachments as the Heroku CLI names them: an add-on by its name or id, an
 * attachment by its name ({@code DATABASE}), its config var ({@code DATABASE_URL}), or the
 * add-on's name or id within an app.
 */
@Singleton
final class HerokuAddons {
    private final DatabaseLookup databases;
    private final Attachments attachments;
    private final HerokuShapes shapes;

    HerokuAddons(DatabaseLookup databases, Attachments attachments, HerokuShapes shapes) {
        this.databases = databases;
        this.attachments = attachments;
        this.shapes = shapes;
    }

    /** The caller's database named or numbered {@code nameOrId}; 404 {@code not_found} otherwise. */
    Database database(Caller caller, String nameOrId) {
        try {
            return databases.require(caller, nameOrId);
        } catch (KeelException e) {
            throw new KeelException(ProblemType.NOT_FOUND, "Couldn't find that add on.").with("resource", "add_on");
        }
    }

    Optional<Attachment> owner(Database database) {
        return owner(attachments.ofDatabase(database.id()));
    }

    private static Optional<Attachment> owner(List<Attachment> ofDatabase) {
        return ofDatabase.stream().min(Comparator.comparing(Attachment::createdAt));
    }

    HerokuShapes.Addon addon(Database database, @Nullable String provisionMessage) {
        List<Attachment> ofDatabase = attachments.ofDatabase(database.id());
        Optional<Attachment> owner = owner(ofDatabase);
        List<String> vars = owner.map(o -> ofDatabase.stream().filter(a -> a.appId().equals(o.appId())).map(Attachment::configVar).toList())
                .orElse(List.of());
        return shapes.addon(database, owner.orElse(null), vars, provisionMessage);
    }

    HerokuShapes.AddonAttachment attachment(Attachment attachment) {
        Database database = databases.find(attachment.databaseId()).orElseThrow();
        return shapes.attachment(attachment, database, owner(database).orElse(null));
    }

    /** The databases attached to the app, each once, in the order of their first attachment there. */
    List<Database> ofApp(Caller caller, String app) {
        Map<UUID, Database> found = new LinkedHashMap<>();
        attachments.list(caller, app).stream().sorted(Comparator.comparing(Attachment::createdAt))
                .forEach(a -> found.computeIfAbsent(a.databaseId(), id -> databases.find(id).orElse(null)));
        found.values().removeIf(Objects::isNull);
        return List.copyOf(found.values());
    }

    /**
     * The app's attachments that {@code name} means: an attachment name, its config var, or the
     * add-on's name or id; 404 {@code not_found} when none.
     */
    List<Attachment> resolve(Caller caller, String app, String name) {
        List<Attachment> all = attachments.list(caller, app);
        List<Attachment> byName = all.stream().filter(a -> a.name().equals(name) || a.configVar().equals(name)
                || a.id().toString().equals(name)).toList();
        if (!byName.isEmpty()) {
            return byName;
        }
        List<Attachment> byAddon = all.stream().filter(a -> databases.find(a.databaseId())
                .map(d -> d.name().equals(name) || d.id().toString().equals(name)).orElse(false)).toList();
        if (byAddon.isEmpty()) {
            throw new KeelException(ProblemType.NOT_FOUND, "Couldn't find that add on attachment.").with("resource", "addon_attachment");
        }
        return byAddon;
    }

    /** What {@code name} means as a database in the app ({@code DATABASE}, {@code DATABASE_URL}, ...) or in the team (its name or id). */
    Database databaseIn(Caller caller, @Nullable String app, String name) {
        if (app != null) {
            attachments.list(caller, app); // an app that does not exist is 404, not a reason to look in the whole team
            try {
                return databases.find(resolve(caller, app, name).get(0).databaseId()).orElseThrow();
            } catch (KeelException e) {
                // not an attachment of the app: a database of the team, then
            }
        }
        return database(caller, name);
    }
}
