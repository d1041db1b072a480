package dev.keel.addons;

import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.util.Locale;

/**
 * The add-on manifest Keel answers as: its {@code id} and {@code password} (HTTP Basic on
 * {@code /heroku/resources}; an empty password turns the API off), the team that owns the
 * databases it makes, and the token sent with callbacks to the platform (empty: none is sent; the
 * manifest's password is never sent anywhere).
 */
@Singleton
final class AddonSettings {
    private final String id;
    private final String password;
    private final String team;
    private final String callbackToken;

    AddonSettings(@Value("${keel.addon.id}") String id, @Value("${keel.addon.password}") String password,
                  @Value("${keel.addon.team}") String team, @Value("${keel.addon.callback-token}") String callbackToken) {
        this.id = id;
        this.password = password;
        this.team = team;
        this.callbackToken = callbackToken;
    }

    String id() {
        return id;
    }

    String password() {
        return password;
    }

    String team() {
        return team;
    }

    String callbackToken() {
        return callbackToken;
    }

    /** The config var a resource's URL is given as: the manifest id, upper case, {@code -} as {@code _}, then {@code _URL}. */
    String configVar() {
        return id.toUpperCase(Locale.ROOT).replace('-', '_') + "_URL";
    }

    /** The plan name without the {@code <manifest id>:} prefix a platform may send. */
    String planName(String plan) {
        return plan != null && plan.startsWith(id + ":") ? plan.substring(id.length() + 1) : plan;
    }
}
