package dev.keel.problems;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;

import static org.assertj.core.api.Assertions.assertThat;

class ProblemsTest {
    @Test
    void everyProblemTypeHasItsOwnSlug() {
        assertThat(new HashSet<>(Arrays.stream(ProblemType.values()).map(ProblemType::slug).toList())).hasSize(ProblemType.values().length);
        assertThat(ProblemType.forStatus(409)).isEqualTo(ProblemType.CONFLICT);
    }

    @Test
    void unexpectedExceptionsAnswer500WithAReferenceAndNothingOfTheException() {
        HttpResponse<Problem> response = new UnexpectedExceptionHandler()
                .handle(HttpRequest.GET("/v1/databases"), new IllegalStateException("password=hunter2 at /srv/keel/secret"));
        assertThat(response.code()).isEqualTo(500);
        assertThat(response.getContentType()).hasValueSatisfying(t -> assertThat(t.toString()).isEqualTo("application/problem+json"));
        Problem problem = response.body();
        assertThat(problem.type()).isEqualTo("/problems/internal");
        assertThat(problem.detail()).doesNotContain("hunter2").doesNotContain("/srv/keel").doesNotContain("IllegalStateException");
        assertThat(problem.detail()).contains((String) problem.extensions().get("reference"));
    }

    @Test
    void aFailureShowsOnlyTheSentenceOfAProblemThatIsSafeToShow() {
        Failure shown = Failure.of(new KeelException(ProblemType.BACKUP_RUNNING, "A backup of db is running already."), "fallback");
        assertThat(shown).isEqualTo(new Failure("backup-running", true, "A backup of db is running already."));
        Failure withheld = Failure.of(new KeelException(ProblemType.INTERNAL, "password=hunter2"), "Provisioning failed.");
        assertThat(withheld).isEqualTo(new Failure("internal", true, "Provisioning failed."));
        Failure unexpected = Failure.of(new IllegalStateException("/srv/keel/secret"), "Provisioning failed.");
        assertThat(unexpected).isEqualTo(new Failure("internal", true, "Provisioning failed."));
        assertThat(Problems.response(new KeelException(ProblemType.INTERNAL, "password=hunter2"), "/v1").body().detail())
                .doesNotContain("hunter2");
    }

    @Test
    void keelExceptionsCarryTheirDetailAndExtensions() {
        KeelException e = new KeelException(ProblemType.UNKNOWN_PLAN, "There is no plan 'x'.").with("valid_values", java.util.List.of("a"));
        Problem problem = Problems.response(e, "/v1/databases").body();
        assertThat(problem).isEqualTo(new Problem("/problems/unknown-plan", "Unknown plan", 422, "There is no plan 'x'.", "/v1/databases",
                java.util.Map.of("valid_values", java.util.List.of("a"))));
    }
}
