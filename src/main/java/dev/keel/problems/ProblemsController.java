package dev.keel.problems;

import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Produces;

/** Makes each problem {@code type} URI dereferenceable: a one-line description of the type. */
@Controller("/problems")
final class ProblemsController {
    @Get("/{slug}")
    @Produces(MediaType.TEXT_PLAIN)
    String describe(@PathVariable String slug) {
        ProblemType type = ProblemType.forSlug(slug).orElseThrow(() -> KeelException.notFound("problem type", slug));
        return type.slug() + ": " + type.title() + " (HTTP " + type.status() + ")\n";
    }
}
