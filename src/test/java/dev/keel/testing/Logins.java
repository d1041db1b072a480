package dev.keel.testing;

import java.sql.Connection;
import java.sql.SQLException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Assertions on what a connection URL can do against a test Keel's servers (TLS verified against its CA). */
public final class Logins {
    private Logins() {
    }

    /** The URL logs in and answers a query. */
    public static void assertConnects(TestKeel keel, String url) throws SQLException {
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select 1")).isEqualTo("1");
        }
    }

    /** The URL's password is refused (28P01), as after a rotation or once its role is gone. */
    public static void assertPasswordRefused(TestKeel keel, String url) {
        assertThatThrownBy(() -> Pg.connect(url, keel.caFile()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
    }
}
