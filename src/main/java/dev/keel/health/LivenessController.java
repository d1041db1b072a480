package dev.keel.health;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.serde.annotation.Serdeable;

/**
 * {@code GET /health/live}: 200 {@code {"status":"up"}} while Keel's process answers, without
 * asking the catalog (a liveness probe, where {@code /health} is readiness). Answered on the event
 * loop, so that requests waiting for the catalog on the blocking threads do not hold it up. No API
 * key needed.
 */
@Controller("/health/live")
final class LivenessController {
    @Serdeable
    record Live(String status) {
    }

    @Get
    HttpResponse<Live> live() {
        return HttpResponse.ok(new Live("up"));
    }
}
