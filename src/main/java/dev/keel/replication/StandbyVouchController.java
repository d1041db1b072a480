package dev.keel.replication;

import dev.keel.problems.KeelException;
import dev.keel.problems.Problem;
import dev.keel.problems.ProblemType;
import dev.keel.problems.Problems;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Header;
import io.swagger.v3.oas.annotations.Operation;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

/**
 * {@code GET /internal/standby-vouch} with header {@code Keel-Vouch: <question>}: another node's
 * self-fence asks this node, which hosts its primary's standby, to vouch that it reaches the
 * primary ({@link StandbyVouches}). The sealed question is the whole authorization (no API key);
 * one that is altered, stale or not sealed with the installation's key is not found. Answered on
 * threads of its own, never waiting for the catalog: {@code 200} with the sealed answer in header
 * {@code Keel-Vouch-Answer}, or {@code 409} saying why not.
 */
@Controller(StandbyVouches.PATH)
final class StandbyVouchController {
    private final StandbyVouches vouches;
    private final HaMonitor monitor;

    StandbyVouchController(StandbyVouches vouches, HaMonitor monitor) {
        this.vouches = vouches;
        this.monitor = monitor;
    }

    @Get
    @Operation(summary = "Vouch for a primary whose standby this node hosts, for another Keel node's self-fence (header Keel-Vouch: a"
            + " question sealed with the installation's secret key)")
    CompletableFuture<HttpResponse<Problem>> vouch(@Header(StandbyVouches.QUESTION_HEADER) @Nullable String sealed) {
        StandbyVouches.Question question = (sealed == null ? Optional.<StandbyVouches.Question>empty() : vouches.open(sealed))
                .orElseThrow(() -> new KeelException(ProblemType.NOT_FOUND, "This vouch question is unknown or stale; it is for Keel's"
                        + " nodes, which ask a new one."));
        try {
            return CompletableFuture.supplyAsync(() -> {
                String refusal = monitor.vouch(question.primary(), question.standby());
                if (refusal == null) {
                    return HttpResponse.<Problem>ok().header(StandbyVouches.ANSWER_HEADER, vouches.vouched(question));
                }
                return Problems.response(Problem.of(ProblemType.CONFLICT, "Node does not vouch for primary " + question.primary() + ": "
                        + refusal + ".", StandbyVouches.PATH));
            }, vouches.answering());
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(Problems.response(Problem.of(ProblemType.UNAVAILABLE, "This node answers too many"
                    + " vouch questions at once; ask again.", StandbyVouches.PATH)));
        }
    }
}
