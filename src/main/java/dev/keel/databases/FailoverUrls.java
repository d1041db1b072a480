package dev.keel.databases;

import dev.keel.credentials.Credentials;
import dev.keel.credentials.FailoverUrl;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.PublicHosts;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@link FailoverUrl} of a database: its primary, then its HA standby when it has one, the
 * servers that can be its primary. The database's view shows it for a database with a standby; an
 * attachment that asks for it ({@code "url": "failover"}) has it as its config var whatever the
 * standby's state, the primary alone while there is none, so the app's URL keeps its form.
 */
@Singleton
public final class FailoverUrls {
    private final InstanceRepository instances;
    private final Credentials credentials;
    private final PublicHosts hosts;

    FailoverUrls(InstanceRepository instances, Credentials credentials, PublicHosts hosts) {
        this.instances = instances;
        this.credentials = credentials;
        this.hosts = hosts;
    }

    /** The URL of {@code credential} through every server that can be the primary; none without a primary or for a follower. */
    public Optional<FailoverUrl> of(Database db, String credential) {
        return of(db, credential, instances.standby(db.id()));
    }

    /** {@link #of} for a database that has a standby now: the view shows a failover URL only then. */
    public Optional<FailoverUrl> withStandby(Database db, String credential) {
        Optional<Instance> standby = instances.standby(db.id());
        return standby.isPresent() ? of(db, credential, standby) : Optional.empty();
    }

    private Optional<FailoverUrl> of(Database db, String credential, Optional<Instance> standby) {
        Optional<Instance> primary = instances.primary(db.id());
        if (primary.isEmpty() || db.following()) {
            return Optional.empty();
        }
        List<FailoverUrl.Server> servers = new ArrayList<>(List.of(new FailoverUrl.Server(hosts.of(primary.get().node()),
                primary.get().port())));
        standby.ifPresent(s -> servers.add(new FailoverUrl.Server(hosts.of(s.node()), s.port())));
        return credentials.url(db.id(), credential, db.pgDatabase(), hosts.of(primary.get().node()), primary.get().port())
                .map(u -> new FailoverUrl(u.user(), u.password(), servers, db.pgDatabase()));
    }
}
