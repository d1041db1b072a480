package dev.keel.archfixtures.apps;

import dev.keel.archfixtures.http.FixtureController;
import dev.keel.archfixtures.http.JsonBody;

/** A controller, by the fixtures' stand-in for Micronaut's annotation. */
@FixtureController
public class AppsController {
    public String show() {
        return JsonBody.read();
    }
}
