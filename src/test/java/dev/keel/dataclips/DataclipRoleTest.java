package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * On every major the suite serves: a clip reads what the owner's tables, views and sequences
 * hold (made before its role and after), but no secret: not pg_authid, not the password verifiers
 * of any role, not the options of user mappings, not subscriptions' conninfo; its session is
 * pinned to search_path pg_catalog, pg_temp at login while its own SQL resolves names as the
 * database says. A role made the old way (a member of pg_read_all_data) is reshaped at its next
 * run, before that run reads anything.
 */
@ExtendWith(SharedKeel.class)
class DataclipRoleTest {
    @Test
    void aClipReadsTheOwnersDataButNoSecretOnEveryMajor(TestKeel keel) throws Exception {
        Api api = keel.newTeam("roles-" + UUID.randomUUID().toString().substring(0, 8));
        for (int major : majors(keel)) {
            JsonNode db = api.provision("{\"plan\":\"essential-0\",\"version\":\"" + major + "\"}");
            try (Connection owner = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("create table before_role as select generate_series(1, 3) as n");
                assertThat(run(api, db, "select count(*) from before_role")).as("major " + major).isEqualTo("3");
                // Made after the role: the owner's default privileges give the role SELECT (USAGE on a new schema).
                sql.execute("create schema app");
                sql.execute("create table app.after_role as select generate_series(1, 4) as n");
                sql.execute("create view app.doubled as select n * 2 as n from app.after_role");
                sql.execute("create materialized view counted as select count(*) as n from app.after_role");
                sql.execute("create sequence numbers");
                sql.execute("select nextval('numbers'), nextval('numbers')");
                assertThat(run(api, db, "select (select sum(n) from app.doubled) + (select n from counted) + (select last_value from numbers)"
                        + " + (select count(*) from before_role)")).as("major " + major).isEqualTo("29");
                // The clip's own SQL resolves names on the database's search_path; Keel's session stays pinned.
                sql.execute("alter database \"" + Pg.scalar(owner, "select current_database()") + "\" set search_path = app, public");
                Database database = keel.bean(DatabaseLookup.class).find(UUID.fromString(db.get("id").asText())).orElseThrow();
                assertThat(run(api, db, "select count(*) from after_role")).as("major " + major).isEqualTo("4");
                try (Connection clip = keel.bean(ClipRunner.class).open(keel.bean(RunTarget.class).primary(database),
                        keel.bean(DataclipRoles.class).loginFor(database), 10)) {
                    assertThat(Pg.scalar(clip, "show search_path")).isEqualTo("pg_catalog,pg_temp");
                }

                try (Connection superuser = superuser(keel, database); Statement su = superuser.createStatement()) {
                    su.execute("create foreign data wrapper keel_test_fdw");
                    su.execute("create server keel_test_server foreign data wrapper keel_test_fdw");
                    su.execute("alter server keel_test_server owner to " + owner.getMetaData().getUserName());
                    su.execute("create user mapping for public server keel_test_server options (password 'mapping-secret')");
                    su.execute("create subscription keel_test_subscription connection 'host=127.0.0.1 port=1 dbname=elsewhere"
                            + " password=subscription-secret' publication nothing with (connect = false, slot_name = none)");
                }
                assertThat(run(api, db, "select count(*) from pg_user_mappings where umoptions is null")).isEqualTo("1");
                assertThat(run(api, db, "select subname from pg_subscription")).isEqualTo("keel_test_subscription");
                for (String secret : new String[] {"select rolname, rolpassword from pg_authid", "select passwd from pg_shadow",
                        "select umoptions from pg_user_mapping", "select subconninfo from pg_subscription",
                        "select rolpassword from pg_catalog.pg_authid where rolname = 'keel'"}) {
                    JsonNode result = result(api, db, secret);
                    assertThat(result.get("state").asText()).as(major + ": " + secret + " " + result).isEqualTo("failed");
                    assertThat(result.get("error").get("sqlstate").asText()).isEqualTo("42501");
                    assertThat(result.get("error").get("message").asText()).startsWith("permission denied for");
                }
            } finally {
                api.deprovision(db.get("id").asText());
            }
        }
    }

    @Test
    void aRoleMadeTheOldWayLosesPgReadAllDataAtItsNextRunOnEveryMajor(TestKeel keel) throws Exception {
        Api api = keel.newTeam("reshape-" + UUID.randomUUID().toString().substring(0, 8));
        for (int major : majors(keel)) {
            JsonNode db = api.provision("{\"plan\":\"essential-0\",\"version\":\"" + major + "\"}");
            try {
                assertThat(run(api, db, "select 1")).isEqualTo("1");
                Database database = keel.bean(DatabaseLookup.class).find(UUID.fromString(db.get("id").asText())).orElseThrow();
                String role = keel.bean(DataclipRoles.class).loginFor(database).username();
                // As the previous version left it: a member of pg_read_all_data, its shape not recorded; and a member of
                // a role the owner granted it (the owner holds admin option on its credentials after repair-default). From
                // 16 on, a plain REVOKE by Keel leaves the owner's grant in place.
                try (Connection superuser = superuser(keel, database); Statement su = superuser.createStatement()) {
                    su.execute("grant pg_read_all_data to " + role);
                    String owner = Pg.scalar(superuser, "select pg_get_userbyid(datdba) from pg_database where datname = current_database()");
                    su.execute("create role clip_bait_" + major);
                    su.execute("grant clip_bait_" + major + " to \"" + owner + "\" with admin option");
                    su.execute("set role \"" + owner + "\"");
                    su.execute("grant clip_bait_" + major + " to " + role);
                    su.execute("reset role");
                    assertThat(Pg.scalar(superuser, "select count(*) from pg_auth_members m join pg_roles r on r.oid = m.member"
                            + " where r.rolname = '" + role + "' and m.grantor = (select datdba from pg_database where datname ="
                            + " current_database())")).as("a membership the owner granted").isEqualTo("1");
                    assertThat(Pg.scalar(su.getConnection(), "select pg_has_role('" + role + "', 'pg_read_all_data', 'member')"))
                            .isEqualTo("t");
                }
                try (Connection catalog = Footprint.catalog(keel.dataDir());
                     PreparedStatement old = catalog.prepareStatement("update dataclip_roles set shape = null where database_id = ?")) {
                    old.setObject(1, database.id());
                    assertThat(old.executeUpdate()).isEqualTo(1);
                }
                JsonNode result = result(api, db, "select count(*) from pg_authid");
                assertThat(result.get("state").asText()).as(major + ": " + result).isEqualTo("failed");
                assertThat(result.get("error").get("message").asText()).isEqualTo("permission denied for table pg_authid");
                try (Connection superuser = superuser(keel, database); Statement su = superuser.createStatement();
                     ResultSet rs = su.executeQuery("select pg_has_role('" + role + "', 'pg_read_all_data', 'member'),"
                             + " (select count(*) from pg_auth_members m join pg_roles r on r.oid = m.member where r.rolname = '" + role + "')")) {
                    rs.next();
                    assertThat(rs.getBoolean(1)).as("major " + major).isFalse();
                    assertThat(rs.getInt(2)).as("memberships of " + role).isZero();
                }
                try (Connection catalog = Footprint.catalog(keel.dataDir());
                     PreparedStatement shape = catalog.prepareStatement("select shape from dataclip_roles where database_id = ?")) {
                    shape.setObject(1, database.id());
                    try (ResultSet rs = shape.executeQuery()) {
                        assertThat(rs.next()).isTrue();
                        assertThat(rs.getString(1)).startsWith("v3 ");
                    }
                }
            } finally {
                api.deprovision(db.get("id").asText());
            }
        }
    }

    /** Every major the Keel under test serves (keel.postgres.versions). */
    private static List<Integer> majors(TestKeel keel) {
        List<Integer> majors = keel.bean(PostgresBinaries.class).supportedMajors();
        assertThat(majors).hasSizeGreaterThanOrEqualTo(5);
        return majors;
    }

    private static Connection superuser(TestKeel keel, Database database) throws Exception {
        return Superuser.connect(keel, keel.bean(InstanceRepository.class).primary(database.id()).orElseThrow(), database.pgDatabase());
    }

    /** Saves and runs a clip of one value (it must succeed); that value, from its CSV. */
    private static String run(Api api, JsonNode db, String sql) {
        JsonNode clip = save(api, db, sql);
        assertThat(clip.get("result").get("state").asText()).as(sql + ": " + clip).isEqualTo("succeeded");
        String url = api.post("/v1/dataclips/" + clip.get("id").asText() + "/share", "").field("url");
        return api.withKey(null).get(URI.create(url).getRawPath() + ".csv").text().split("\r\n")[1];
    }

    private static JsonNode result(Api api, JsonNode db, String sql) {
        return save(api, db, sql).get("result");
    }

    private static JsonNode save(Api api, JsonNode db, String sql) {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"t\",\"database\":\"" + db.get("id").asText() + "\",\"sql\":"
                + Json.quote(sql) + "}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return created.json();
    }
}
