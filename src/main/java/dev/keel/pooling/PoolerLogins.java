package dev.keel.pooling;

import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.CredentialRotated;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.context.event.ApplicationEventListener;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import java.util.Properties;

/**
 * After a rotation, logs in once through the database's pooler with the new password. PgBouncer
 * opens server connections for a role with the SCRAM keys of that role's latest client login
 * (auth_query gives it only the verifier); until a client logs in with the new password, a new
 * server connection for clients still connected with the old one would fail. This login hands it
 * the new keys before the rotation answers.
 */
@Singleton
final class PoolerLogins implements ApplicationEventListener<CredentialRotated> {
    private static final Logger LOG = LoggerFactory.getLogger(PoolerLogins.class);
    private static final int TIMEOUT_SECONDS = 10;

    private final Poolers poolers;
    private final DatabaseLookup databases;
    private final Credentials credentials;
    private final CertificateAuthority authority;

    PoolerLogins(Poolers poolers, DatabaseLookup databases, Credentials credentials, CertificateAuthority authority) {
        this.poolers = poolers;
        this.databases = databases;
        this.credentials = credentials;
        this.authority = authority;
    }

    @Override
    public void onApplicationEvent(CredentialRotated event) {
        Optional<Pooler> pooler = poolers.find(event.databaseId());
        Optional<Database> database = databases.find(event.databaseId());
        if (pooler.isEmpty() || database.isEmpty()) {
            return;
        }
        Optional<ConnectionUrl> url = credentials.url(event.databaseId(), event.name(), database.get().pgDatabase(), pooler.get().host(),
                pooler.get().port());
        if (url.isEmpty()) {
            return;
        }
        Properties props = new Properties();
        props.setProperty("user", url.get().user());
        props.setProperty("password", url.get().password());
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", authority.certificateFile().toString());
        props.setProperty("preferQueryMode", "simple");
        props.setProperty("connectTimeout", Integer.toString(TIMEOUT_SECONDS));
        props.setProperty("socketTimeout", Integer.toString(TIMEOUT_SECONDS));
        props.setProperty("ApplicationName", "keel-pooler-login");
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://" + pooler.get().host() + ":" + pooler.get().port()
                + "/" + database.get().pgDatabase(), props); Statement sql = connection.createStatement()) {
            sql.execute("select 1");
        } catch (SQLException e) {
            LOG.warn("Could not log in through the pooler of {} as rotated credential {}; its next client login does what this would have",
                    database.get().name(), event.name(), e);
        }
    }
}
