package dev.keel.dataclips;

import dev.keel.RandomStrings;
import dev.keel.auth.Caller;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Share links: an unguessable slug (192 random bits), revoked at once by clearing it, and the
 * result served under it, of the clip's saved parameter values: stored while fresh, else run again
 * (see {@link ClipRuns#fresh}).
 */
@Singleton
final class Shares {
    private static final int SLUG_BYTES = 24;
    private static final Pattern SLUG = Pattern.compile("[A-Za-z0-9_-]{32}");

    private final Dataclips dataclips;
    private final DataclipRepository clips;
    private final ClipRuns runs;
    private final AccessCounts accesses;

    Shares(Dataclips dataclips, DataclipRepository clips, ClipRuns runs, AccessCounts accesses) {
        this.dataclips = dataclips;
        this.clips = clips;
        this.runs = runs;
        this.accesses = accesses;
    }

    /** The clip with its share state and access counts up to now. */
    Dataclip status(Caller caller, String id) {
        Dataclip clip = dataclips.require(caller, id);
        accesses.flush();
        return clips.find(clip.id()).orElseThrow();
    }

    /** Shares the clip (keeping its slug when it is shared already). */
    Dataclip share(Caller caller, String id) {
        Dataclip clip = dataclips.require(caller, id);
        if (clip.slug() == null) {
            accesses.flush(); // counts of a revoked link go before the new link starts from zero
            clips.share(clip.id(), Base64.getUrlEncoder().withoutPadding().encodeToString(RandomStrings.bytes(SLUG_BYTES)));
        }
        return clips.find(clip.id()).orElseThrow();
    }

    Dataclip revoke(Caller caller, String id) {
        Dataclip clip = dataclips.require(caller, id);
        accesses.flush();
        clips.unshare(clip.id());
        return clips.find(clip.id()).orElseThrow();
    }

    /** A shared clip and the result to serve; empty result while the first run is under way. */
    record Served(Dataclip clip, Optional<ClipResult> result) {
    }

    /**
     * What the link {@code slug} serves: the clip run with the parameter values its owner saved (its {@code parameters}),
     * never with values the link's holder chooses, who would otherwise read every row the clip's SQL can reach
     * ({@code where customer = {{customer}}} shared for one customer). 404 for a slug that is not (or no longer) shared;
     * 422 when the query string {@code given} names one of the clip's parameters (other names, such as a link tracker's,
     * are ignored), and when the owner saved no value for one. Counts the access.
     */
    Served open(String slug, Map<String, String> given) {
        Dataclip clip = (SLUG.matcher(slug).matches() ? clips.findBySlug(slug) : Optional.<Dataclip>empty())
                .orElseThrow(() -> KeelException.notFound("shared dataclip", slug));
        ClipText.Prepared prepared = ClipText.prepare(clip.version().sql());
        for (String name : prepared.names()) {
            if (given.containsKey(name)) {
                throw new KeelException(ProblemType.INVALID_PARAMETER, "A shared link runs its dataclip with the parameter values its"
                        + " owner saved; it cannot set {{" + name + "}}. Open the link without ?" + name + "=..., or ask the dataclip's"
                        + " owner for a link to a dataclip saved with the value you need.").with("parameter", name);
            }
            // Saving a clip requires a value for each parameter; a clip saved otherwise (by hand, or by a Keel that did not) is
            // the owner's to fix, not the holder's (Dataclips.values would tell the holder to add ?name=, which is refused).
            if (clip.parameters().get(name) == null) {
                throw new KeelException(ProblemType.INVALID_PARAMETER, "The dataclip's SQL uses {{" + name + "}} but its owner saved"
                        + " no value for it, and a shared link runs with saved values only: ask the dataclip's owner to save a value"
                        + " for {{" + name + "}}.").with("parameter", name);
            }
        }
        accesses.record(clip.id());
        Map<String, String> values = Dataclips.values(prepared, clip.parameters(), Map.of());
        return new Served(clip, runs.fresh(clip, () -> dataclips.database(clip), prepared, values));
    }
}
