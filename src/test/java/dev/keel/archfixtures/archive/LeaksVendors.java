package dev.keel.archfixtures.archive;

import com.zaxxer.hikari.HikariDataSource;
import org.bouncycastle.asn1.x500.X500Name;
import org.flywaydb.core.Flyway;
import org.postgresql.PGConnection;
import org.postgresql.replication.PGReplicationStream;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

/** Reaches past every vendor boundary from a capability that owns none of them. */
public final class LeaksVendors {
    S3Client s3() {
        return S3Client.create();
    }

    Process start() throws IOException {
        return new ProcessBuilder("true").start();
    }

    Process exec() throws IOException {
        return Runtime.getRuntime().exec(new String[] {"true"});
    }

    void kill(long pid) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost/postgres");
    }

    void stream(PGReplicationStream stream) throws SQLException {
        stream.forceUpdateStatus();
    }

    PGConnection unwrap(Connection connection) throws SQLException {
        return connection.unwrap(PGConnection.class);
    }

    X500Name subject() {
        return new X500Name("CN=keel");
    }

    Flyway flyway() {
        return Flyway.configure().load();
    }

    HikariDataSource pool() {
        return new HikariDataSource();
    }
}
