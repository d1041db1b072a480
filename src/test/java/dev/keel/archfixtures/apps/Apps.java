package dev.keel.archfixtures.apps;

import dev.keel.archfixtures.http.JsonBody;

/** A use case that calls a controller and reads HTTP conventions itself. */
public final class Apps {
    String show(AppsController controller) {
        return controller.show() + JsonBody.read();
    }
}
