package dev.keel.testing;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Databases a test class provisions before its first test, a few at a time, one per test: each
 * waits for its first backup (which begins a few seconds after it is available), and those waits
 * overlap rather than follow one another, one per test. Each test still takes a database of its
 * own, which nothing else touches, and gets rid of it when it ends; {@link #discardUntaken} gets
 * rid of those no test took (a run of some of the tests only).
 */
public final class ProvisionedAhead<T> {
    /**
     * How many are provisioned at a time: a few, so that their waits overlap, but not all at once,
     * whose initdbs and backups together would take the machine from the classes beside this one
     * (some of which hold the WAL receiver to a second's bound) for seconds.
     */
    private static final int AT_ONCE = 3;

    /** Provisions the database of the test named {@code name}; gets rid of what it made should it fail. */
    @FunctionalInterface
    public interface Provision<T> {
        T provision(String name) throws Exception;
    }

    /** Gets rid of a database no test took. */
    @FunctionalInterface
    public interface Discard<T> {
        void discard(T database) throws Exception;
    }

    private final Map<String, Future<T>> provisioned = new ConcurrentHashMap<>();
    private final Discard<T> discard;

    private ProvisionedAhead(Discard<T> discard) {
        this.discard = discard;
    }

    /** Starts provisioning a database for each of {@code names}, {@link #AT_ONCE} at a time. */
    public static <T> ProvisionedAhead<T> start(Collection<String> names, Provision<T> provision, Discard<T> discard) {
        ProvisionedAhead<T> ahead = new ProvisionedAhead<>(discard);
        ExecutorService provisioning = Executors.newFixedThreadPool(AT_ONCE);
        try {
            for (String name : names) {
                ahead.provisioned.put(name, provisioning.submit(() -> provision.provision(name)));
            }
        } finally {
            provisioning.shutdown();
        }
        return ahead;
    }

    /** The database of the test named {@code name}, once provisioned (its provision's failure, if it failed); the test gets rid of it. */
    public T take(String name) throws Exception {
        Future<T> database = provisioned.remove(name);
        if (database == null) {
            throw new IllegalStateException("no database was provisioned ahead for " + name + ", or a test took it already");
        }
        try {
            return database.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw (Error) e.getCause();
        }
    }

    /** Gets rid of the databases no test took. */
    public void discardUntaken() throws Exception {
        for (String name : List.copyOf(provisioned.keySet())) {
            T untaken;
            try {
                untaken = provisioned.remove(name).get();
            } catch (ExecutionException e) {
                continue; // its provision failed, and got rid of what it made
            }
            discard.discard(untaken);
        }
    }
}
