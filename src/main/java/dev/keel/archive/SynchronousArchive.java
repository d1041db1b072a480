package dev.keel.archive;

import dev.keel.StartupException;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The plans without a standby whose commits wait for the WAL receiver
 * ({@code KEEL_ARCHIVE_SYNCHRONOUS_PLANS}): a commit is acknowledged only once its WAL is in the
 * object store, so losing the primary's host loses no acknowledged write. The receiver then stores
 * what arrived at once, not {@code stream-upload-millis} later, and tells the server at once.
 * An HA plan's commits wait for its standby instead ({@code KEEL_HA_ASYNCHRONOUS_PLANS} opts out),
 * so naming one here is refused at start.
 */
@Singleton
public final class SynchronousArchive {
    private final Set<String> plans;

    SynchronousArchive(Plans all, @Value("${keel.archive.synchronous-plans:}") String plans,
                       @Value("${keel.archive.streaming:true}") boolean streaming) {
        this.plans = Arrays.stream(plans.split(",")).map(String::strip).filter(p -> !p.isEmpty()).collect(Collectors.toUnmodifiableSet());
        if (!streaming && !this.plans.isEmpty()) {
            throw new StartupException("KEEL_ARCHIVE_SYNCHRONOUS_PLANS needs the WAL receiver, which KEEL_ARCHIVE_STREAMING=false turns off;"
                    + " turn it on or list no plan");
        }
        for (String name : this.plans) {
            Plan plan = all.find(name).orElseThrow(() -> new StartupException("KEEL_ARCHIVE_SYNCHRONOUS_PLANS names '" + name
                    + "', which is no plan; plans are " + all.all().stream().map(Plan::name).collect(Collectors.joining(", "))));
            if (plan.ha()) {
                throw new StartupException("KEEL_ARCHIVE_SYNCHRONOUS_PLANS names '" + name + "', whose commits wait for its standby"
                        + " already; list only plans without a standby");
            }
        }
    }

    /** Whether commits on {@code plan} wait for the WAL receiver. */
    public boolean wants(String plan) {
        return plans.contains(plan);
    }

    /** The plans whose commits wait for the WAL receiver (none by default). */
    public Set<String> plans() {
        return plans;
    }
}
