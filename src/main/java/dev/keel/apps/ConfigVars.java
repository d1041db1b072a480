package dev.keel.apps;

import dev.keel.auth.Caller;
import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.Credentials;
import dev.keel.credentials.FailoverUrl;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.FailoverUrls;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.PublicHosts;
import dev.keel.pooling.Poolers;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * An app's config vars: {@code <attachment>_URL} for each attachment of an available database,
 * read when asked, so a rotation or a failover shows at once. A follower's URL names its own
 * server, with its leader's credentials (the roles it replays). A failover attachment's URL lists
 * the primary and its standby ({@link FailoverUrls}).
 */
@Singleton
public final class ConfigVars {
    private final Attachments attachments;
    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final Credentials credentials;
    private final PublicHosts hosts;
    private final Poolers poolers;
    private final FailoverUrls failoverUrls;

    ConfigVars(Attachments attachments, DatabaseLookup databases, InstanceRepository instances, Credentials credentials,
               PublicHosts hosts, Poolers poolers, FailoverUrls failoverUrls) {
        this.failoverUrls = failoverUrls;
        this.poolers = poolers;
        this.attachments = attachments;
        this.databases = databases;
        this.instances = instances;
        this.credentials = credentials;
        this.hosts = hosts;
    }

    public Map<String, String> of(Caller caller, String appName) {
        Map<String, String> vars = new TreeMap<>();
        for (Attachment attachment : attachments.list(caller, appName)) {
            Optional<String> url = attachment.failover() ? failoverUrl(attachment.databaseId(), attachment.credential())
                    : (attachment.pooled() ? pooledUrl(attachment.databaseId(), attachment.credential())
                    : url(attachment.databaseId(), attachment.credential())).map(ConnectionUrl::toString);
            url.ifPresent(u -> vars.put(attachment.configVar(), u));
        }
        return vars;
    }

    /** The libpq failover URL of credential {@code credential} of an available database. */
    private Optional<String> failoverUrl(UUID databaseId, String credential) {
        return databases.find(databaseId).filter(d -> d.state() == DatabaseState.AVAILABLE)
                .flatMap(db -> failoverUrls.of(db, credential)).map(FailoverUrl::libpq);
    }

    /** The URL of credential {@code credential} of an available database through its pooler, while it has one. */
    public Optional<ConnectionUrl> pooledUrl(UUID databaseId, String credential) {
        return url(databaseId, credential).flatMap(direct -> poolers.find(databaseId)
                .map(pooler -> new ConnectionUrl(direct.user(), direct.password(), direct.host(), pooler.port(), direct.database())));
    }

    /** The URL of credential {@code credential} of an available database, on its primary (a follower: its own server). */
    public Optional<ConnectionUrl> url(UUID databaseId, String credential) {
        Optional<Database> database = databases.find(databaseId).filter(d -> d.state() == DatabaseState.AVAILABLE);
        if (database.isEmpty()) {
            return Optional.empty();
        }
        Database db = database.get();
        return instances.primary(db.id()).flatMap(primary -> credentials.url(db.id(), credential, db.pgDatabase(), hosts.of(primary.node()),
                        primary.port())
                .or(() -> db.following()
                        ? credentials.url(db.leaderId(), credential, db.pgDatabase(), hosts.of(primary.node()), primary.port())
                        : Optional.empty()));
    }
}
