package dev.keel.databases;

import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;

import java.util.List;

/** {@code GET /v1/plans}: the plans and their limits. Public, like a price list. */
@Controller("/v1/plans")
final class PlansController {
    private final Plans plans;

    PlansController(Plans plans) {
        this.plans = plans;
    }

    @Get
    List<Plan> list() {
        return plans.all();
    }
}
