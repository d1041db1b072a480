package dev.keel.testing;

import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceRepository;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * A test's own superuser connection to an instance, with Keel's {@code keel} credentials from the
 * catalog: for looking at (or tampering with) what Keel itself only reaches through its
 * {@code ServerSession}. Nothing is pinned: the test sees the server as a tenant's session would.
 */
public final class Superuser {
    private Superuser() {
    }

    public static Connection connect(TestKeel keel, Instance instance, String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", InstanceConfig.SUPERUSER);
        props.setProperty("password", keel.bean(InstanceRepository.class).superuserPassword(instance));
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", keel.caFile().toString());
        props.setProperty("connectTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://" + instance.host() + ":" + instance.port() + "/" + database, props);
    }
}
