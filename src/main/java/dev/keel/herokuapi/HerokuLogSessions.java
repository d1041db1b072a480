package dev.keel.herokuapi;

import dev.keel.auth.ApiKeys;
import dev.keel.auth.Caller;
import dev.keel.credentials.Secrets;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Log sessions ({@code heroku logs}): what to stream sealed with Keel's secret key into the URL
 * itself, as an unguessable capability that needs no API key (the CLI's event source sends none)
 * and that any Keel node sharing the key can serve. A session must start within
 * {@link #START_WITHIN}; an altered or stale URL is not found, and so is one whose API key was
 * revoked since (a tail already open ends at its next poll: {@code LogFollowing}).
 */
@Singleton
final class HerokuLogSessions {
    static final Duration START_WITHIN = Duration.ofMinutes(5);
    private static final String CONTEXT = "log-session";

    private final Secrets secrets;
    private final ApiKeys keys;

    HerokuLogSessions(Secrets secrets, ApiKeys keys) {
        this.secrets = secrets;
        this.keys = keys;
    }

    /** A session: whose (team and key), which app, how many lines first, and whether it follows. */
    record Session(UUID teamId, UUID keyId, String app, int lines, boolean tail, Instant expiresAt) {
        Caller caller() {
            return new Caller(teamId, keyId, false);
        }
    }

    String token(Caller caller, String app, int lines, boolean tail) {
        return secrets.sealToken(CONTEXT, "1", caller.teamId().toString(), caller.keyId().toString(), app, Integer.toString(lines),
                Boolean.toString(tail), Long.toString(Instant.now().plus(START_WITHIN).getEpochSecond()));
    }

    /** The session a token stands for; 404 when it is altered, unknown or stale, or the API key that made it is revoked. */
    Session open(String token) {
        Session session = parse(token).filter(s -> s.expiresAt().isAfter(Instant.now())).orElseThrow(() -> new KeelException(
                ProblemType.NOT_FOUND, "This log session is unknown or over (a session starts within " + START_WITHIN.toMinutes()
                + " minutes of being made); run heroku logs again."));
        if (!keys.active(session.keyId())) {
            throw new KeelException(ProblemType.NOT_FOUND, "The API key that made this log session was revoked, and the session with it;"
                    + " run heroku logs again with a key that is not revoked.");
        }
        return session;
    }

    private Optional<Session> parse(String token) {
        List<String> parts = secrets.openToken(token, CONTEXT).orElse(List.of());
        if (parts.size() != 7 || !parts.get(0).equals("1")) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Session(UUID.fromString(parts.get(1)), UUID.fromString(parts.get(2)), parts.get(3),
                    Integer.parseInt(parts.get(4)), Boolean.parseBoolean(parts.get(5)), Instant.ofEpochSecond(Long.parseLong(parts.get(6)))));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
