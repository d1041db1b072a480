package dev.keel.http;

import org.jooq.DSLContext;

import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * What the API lets the given teams change, read from the catalog as text: their keys,
 * databases, credentials (sealed passwords too), apps, attachments, dataclips with their
 * versions and results, backups, schedules and operations, logical backups and restores with
 * their schedules, poolers, upgrades, settings and diagnose reports; the given add-on resources and their
 * databases; and any team or database named as {@link BadInputs} would name one. Times and
 * counters that move on their own are left out, and so are other teams' rows: other test
 * classes work on the same Keel meanwhile.
 */
final class CatalogState {
    /** {@code %1$s}: the teams, {@code %2$s}: the databases (theirs and the resources'), {@code %3$s}: the resources. */
    private static final List<String> QUERIES = List.of(
            "select id, name, platform from teams where id = any(%1$s) or name like 'fuzz-made%%' or name in ('123', 'true') order by id",
            "select id, team_id, name, key_hash, admin from api_keys where team_id = any(%1$s) order by id",
            "select id, team_id, name, plan, major_version, state from databases where id = any(%2$s) or name like 'fuzz-made%%' order by id",
            "select id, database_id, name, username, md5(password), state from credentials where database_id = any(%2$s) order by id",
            "select id, team_id, name, release_version from apps where team_id = any(%1$s) order by id",
            "select id, app_id, database_id, name, credential, pooled from attachments where database_id = any(%2$s) order by id",
            "select id, team_id, database_id, title, parameters, timeout_seconds, slug from dataclips where team_id = any(%1$s) order by id",
            "select v.id, v.dataclip_id, v.number, v.sql from dataclip_versions v join dataclips c on c.id = v.dataclip_id"
                    + " where c.team_id = any(%1$s) order by v.id",
            "select r.id, r.dataclip_id, r.version_id, r.parameters from dataclip_results r join dataclips c on c.id = r.dataclip_id"
                    + " where c.team_id = any(%1$s) order by r.id",
            "select id, database_id, kind from backups where database_id = any(%2$s) order by id",
            "select database_id, hour from backup_schedules where database_id = any(%2$s) order by database_id",
            "select id, team_id, database_id, kind from operations where team_id = any(%1$s) or database_id = any(%2$s) order by id",
            "select id, database_id, plan, callback_url, state from addon_resources where id = any(%3$s) order by id",
            "select id, num, team_id, kind, database_id, state, source_backup_id from transfers where team_id = any(%1$s)"
                    + " or database_id = any(%2$s) order by id",
            "select id, database_id, name, hour, timezone from transfer_schedules where database_id = any(%2$s) order by id",
            "select database_id, host, port from poolers where database_id = any(%2$s) order by database_id",
            "select id, database_id, from_major, to_major, state, dry_run from upgrades where database_id = any(%2$s) order by id",
            "select database_id, name, value from database_settings where database_id = any(%2$s) order by database_id, name",
            "select id, team_id, database_id, app, config_var from diagnose_reports where team_id = any(%1$s) order by id");

    private CatalogState() {
    }

    static String of(DSLContext catalog, List<UUID> teams, List<UUID> resources) {
        String teamIds = array(teams);
        List<UUID> databases = catalog.fetch("select id from databases where team_id = any(" + teamIds + ")"
                + " union select database_id from addon_resources where id = any(" + array(resources) + ")").getValues(0, UUID.class);
        StringBuilder state = new StringBuilder();
        for (String query : QUERIES) {
            String sql = String.format(query, teamIds, array(databases), array(resources));
            state.append(sql).append('\n').append(catalog.fetch(sql).formatCSV()).append('\n');
        }
        return state.toString();
    }

    /** A uuid[] literal: the ids are the test's own. */
    private static String array(List<UUID> ids) {
        return ids.stream().map(UUID::toString).collect(Collectors.joining(",", "'{", "}'::uuid[]"));
    }
}
