package dev.keel.databases;

import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The settings a database's servers run with beyond Keel's base: its plan's limits, then the
 * settings its owner chose ({@code pg:settings}). Every path that writes a server's configuration
 * (provision, restore, follower, HA standby, failover, unfollow, plan change) takes them from here,
 * so a chosen setting survives all of them.
 */
@Singleton
public final class ServerSettings {
    private final Plans plans;
    private final SettingsRepository settings;

    ServerSettings(Plans plans, SettingsRepository settings) {
        this.plans = plans;
        this.settings = settings;
    }

    public Map<String, String> of(Database database) {
        Map<String, String> all = new LinkedHashMap<>(Plans.serverSettings(plans.require(database.plan())));
        settings.of(database.id()).forEach((name, value) -> TunableSetting.of(name).ifPresent(s -> all.putAll(s.serverSettings(value))));
        return all;
    }
}
