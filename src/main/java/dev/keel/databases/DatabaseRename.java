package dev.keel.databases;

import dev.keel.auth.Caller;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.exception.IntegrityConstraintViolationException;

/**
 * A database's new name ({@code heroku addons:rename}). Only Keel's name for it changes: the
 * database inside its server, its credentials, URLs and attachments stay as they are.
 */
@Singleton
public final class DatabaseRename {
    private final DatabaseRepository databases;

    DatabaseRename(DatabaseRepository databases) {
        this.databases = databases;
    }

    public Database rename(Caller caller, String idOrName, String newName) {
        Database database = databases.find(caller.teamId(), idOrName).orElseThrow(() -> KeelException.notFound("database", idOrName));
        if (database.name().equals(newName)) {
            return database;
        }
        DatabaseNames.validate(newName);
        try {
            databases.rename(database.id(), newName);
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.NAME_TAKEN, "There is already a database named " + newName + "; choose another name.");
        }
        return databases.find(database.id()).orElseThrow();
    }
}
