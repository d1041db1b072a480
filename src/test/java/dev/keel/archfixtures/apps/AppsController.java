package dev.keel.archfixtures.apps;

import dev.keel.archfixtures.http.JsonBody;
import io.micronaut.context.annotation.Requires;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;

/** A controller; the property is never set, so no test Keel ever routes to it. */
@Controller("/archfixtures")
@Requires(property = "dev.keel.archfixtures.never-set")
public class AppsController {
    @Get
    public String show() {
        return JsonBody.read();
    }
}
