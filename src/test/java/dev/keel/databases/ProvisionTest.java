package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(SharedKeel.class)
class ProvisionTest {

    @Test
    void provisionedDatabaseServesVerifiedTlsToItsOwnerAndDeleteRemovesEverything(TestKeel keel) throws Exception {
        Api api = keel.api();
        Api.Response created = api.postLikeCurl("/v1/databases", "{\"plan\":\"standard-0\"}");
        assertThat(created.status()).isEqualTo(202);
        assertThat(created.field("state")).isEqualTo("creating");
        assertThat(created.field("plan")).isEqualTo("standard-0");
        assertThat(created.field("version")).isEqualTo("17");
        assertThat(created.field("name")).matches("postgresql-[a-z]+-\\d{5}");
        assertThat(created.json().get("progress").get("kind").asText()).isEqualTo("provision");
        assertThat(created.json().get("url").isNull()).isTrue();
        String id = created.field("id");

        JsonNode database = api.awaitAvailable(id);
        String url = database.get("url").asText();
        assertThat(url).startsWith("postgres://u").endsWith("?sslmode=require");
        assertThat(database.get("progress").isNull()).isTrue();

        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select ssl::text from pg_stat_ssl where pid = pg_backend_pid()")).isEqualTo("true");
            assertThat(Pg.scalar(connection, "select rolsuper::text from pg_roles where rolname = current_user")).isEqualTo("false");
            assertThat(Pg.scalar(connection, "select pg_get_userbyid(datdba) = current_user from pg_database where datname = current_database()"))
                    .isEqualTo("t");
            assertThat(Pg.scalar(connection, "select pg_get_userbyid(nspowner) = current_user from pg_namespace where nspname = 'public'"))
                    .isEqualTo("t");
            assertThat(Pg.scalar(connection, "show max_connections")).isEqualTo("120");
            try (var statement = connection.createStatement()) {
                statement.execute("create table notes (id int primary key, body text)");
                statement.execute("insert into notes values (1, 'hello')");
            }
            assertThat(Pg.scalar(connection, "select body from notes where id = 1")).isEqualTo("hello");
            assertThatThrownBy(() -> Pg.scalar(connection, "create database other"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("permission denied");
        }

        int port = Pg.port(url);
        java.nio.file.Path served = java.nio.file.Path.of(Footprint.dataDirServing(keel.dataDir(), port));
        api.deprovision(id);
        assertThat(Footprint.portIsFree(port)).isTrue();
        assertThat(Footprint.runningInstanceDataDirs(keel.dataDir())).doesNotContain(served.toString());
        assertThat(served.getParent()).doesNotExist();
        assertThat(api.get("/v1/databases").json()).noneMatch(d -> d.get("id").asText().equals(id));
        assertThat(api.delete("/v1/databases/" + id).status()).isEqualTo(404);
    }

    @Test
    void serverRefusesClientsThatSkipTlsOrDoNotTrustKeelsCa(TestKeel keel) throws Exception {
        JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
        String url = database.get("url").asText();
        try {
            assertThatThrownBy(() -> Pg.connect(url, "disable"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("no encryption");
            // verify-full against the JDK's default trust store: Keel's CA is not in it.
            assertThatThrownBy(() -> Pg.connect(url, "verify-full"))
                    .isInstanceOf(SQLException.class);
            try (Connection connection = Pg.connect(url, keel.caFile())) {
                assertThat(Pg.scalar(connection, "show max_connections")).isEqualTo("20");
                assertThat(Pg.scalar(connection, "select count(*) from pg_extension where extname = 'pg_stat_statements'")).isEqualTo("1");
            }
        } finally {
            keel.api().deprovision(database.get("id").asText());
        }
    }

    @Test
    void aDeletionThatStoppedPartWayRunsAgainWhenAskedAgain(TestKeel keel) {
        Api api = keel.newTeam("delete-again-" + System.nanoTime());
        String id = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        // As a deletion that failed part way leaves it: deleting, with no deletion running.
        keel.bean(DSLContext.class).update(DATABASES).set(DATABASES.STATE, DatabaseState.DELETING.value())
                .where(DATABASES.ID.eq(UUID.fromString(id))).execute();
        assertThat(api.get("/v1/databases/" + id).field("state")).isEqualTo("deleting");
        Api.Response again = api.delete("/v1/databases/" + id);
        assertThat(again.status()).as(again.toString()).isEqualTo(202);
        api.awaitGone(id);
        assertThat(api.delete("/v1/databases/" + id).status()).isEqualTo(404);
    }
}
