package dev.keel.health;

import dev.keel.problems.Problem;
import dev.keel.problems.ProblemType;
import dev.keel.problems.Problems;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** 200 {@code {"status":"up"}} when the catalog answers; 503 otherwise. No API key needed. */
@Controller("/health")
@ExecuteOn(TaskExecutors.BLOCKING)
final class HealthController {
    private static final Logger LOG = LoggerFactory.getLogger(HealthController.class);

    private final DSLContext dsl;

    HealthController(DSLContext dsl) {
        this.dsl = dsl;
    }

    @Serdeable
    record Health(String status, String catalog) {
    }

    @Get
    HttpResponse<?> health() {
        try {
            dsl.selectOne().fetch();
            return HttpResponse.ok(new Health("up", "up"));
        } catch (RuntimeException e) {
            LOG.warn("Health check: the catalog does not answer", e);
            return Problems.response(Problem.of(ProblemType.UNAVAILABLE, "Keel cannot reach its catalog.", "/health"));
        }
    }
}
