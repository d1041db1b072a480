package dev.keel.apps;

import dev.keel.auth.Caller;
import dev.keel.pooling.Poolers;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.exception.IntegrityConstraintViolationException;

import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/** Apps of a team: create, list, find, rename, delete (which detaches everything attached to it). */
@Singleton
public final class Apps {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{1,29}");

    private final AppRepository repository;
    private final Poolers poolers;

    Apps(AppRepository repository, Poolers poolers) {
        this.repository = repository;
        this.poolers = poolers;
    }

    public App create(Caller caller, String name) {
        requireValid(name);
        try {
            return repository.insert(caller.teamId(), name);
        } catch (IntegrityConstraintViolationException e) {
            throw taken(name);
        }
    }

    /** An app named {@code name}, or, without one, with a generated name such as {@code floating-harbor-48213}. */
    public App createNamedOrNot(Caller caller, @Nullable String name) {
        return create(caller, name != null ? name
                : AppNames.generate(candidate -> repository.find(caller.teamId(), candidate).isPresent()));
    }

    /** Renames the caller's app {@code from}; its attachments and config vars stay as they were. */
    public App rename(Caller caller, String from, String to) {
        App app = require(caller, from);
        if (app.name().equals(to)) {
            return app;
        }
        requireValid(to);
        try {
            return repository.rename(app.id(), to);
        } catch (IntegrityConstraintViolationException e) {
            throw taken(to);
        }
    }

    private static void requireValid(@Nullable String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new KeelException(ProblemType.INVALID_NAME, "An app name is 2 to 30 characters: lowercase letters, digits and dashes,"
                    + " starting with a letter.");
        }
    }

    private static KeelException taken(String name) {
        return new KeelException(ProblemType.NAME_TAKEN, "There is already an app named " + name + "; choose another name.");
    }

    public List<App> list(Caller caller) {
        return repository.list(caller.teamId());
    }

    /** The caller's app {@code name}; 404 when it does not exist or belongs to another team. */
    public App require(Caller caller, String name) {
        return repository.find(caller.teamId(), name).orElseThrow(() -> KeelException.notFound("app", name));
    }

    /** Deletes the app and its attachments; a pooler none of whose attachments is left is stopped. */
    public void delete(Caller caller, String name) {
        App app = require(caller, name);
        List<UUID> pooled = repository.pooledDatabases(app.id());
        repository.delete(app.id());
        pooled.forEach(database -> poolers.release(database, repository.pooledCount(database)));
    }
}
