package dev.keel.apps;

import dev.keel.auth.Caller;
import dev.keel.pooling.Poolers;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.exception.IntegrityConstraintViolationException;

import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/** Apps of a team: create, list, find, delete (which detaches everything attached to it). */
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
        if (name == null || !NAME.matcher(name).matches()) {
            throw new KeelException(ProblemType.INVALID_NAME, "An app name is 2 to 30 characters: lowercase letters, digits and dashes,"
                    + " starting with a letter.");
        }
        try {
            return repository.insert(caller.teamId(), name);
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.NAME_TAKEN, "There is already an app named " + name + "; choose another name.");
        }
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
