package dev.keel.maintenance;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;
import org.jooq.exception.DataAccessException;

import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/**
 * {@code heroku pg:diagnose}: Heroku's checks ({@link DiagnoseChecks}) run as Keel's superuser on
 * the database's server, within {@link #BUDGET} in all, and the report kept a month so that
 * {@code pg:diagnose <id>} shows it again. The load is the host's, measured by Keel.
 */
@Singleton
public final class Diagnosis {
    /** The whole report's time: the Heroku CLI gives up on a request after 60 s. */
    private static final Duration BUDGET = Duration.ofSeconds(45);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Plans plans;
    private final DiagnoseReports reports;

    Diagnosis(InstanceRepository instances, InstanceConnections connections, Plans plans, DiagnoseReports reports) {
        this.instances = instances;
        this.connections = connections;
        this.plans = plans;
        this.reports = reports;
    }

    /** A report as the CLI shows it: {@code database} is the config var it was asked through. */
    @Serdeable
    public record Report(UUID id, String app, String database, OffsetDateTime createdAt, List<DiagnoseCheck> checks) {
    }

    /** Diagnoses {@code database}, which the caller reached as {@code configVar} of {@code app}, and keeps the report. */
    public Report run(Caller caller, Database database, String app, String configVar) {
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; it can be diagnosed once it is available.");
        }
        Instance server = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no running server to diagnose."));
        List<DiagnoseCheck> checks;
        try (Connection connection = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            MaintenanceSql.pin(connection);
            checks = DiagnoseChecks.run(connection, plans.require(database.plan()).connections(), InstanceConfig.SUPERUSER, loadPerCpu(),
                    Instant.now().plus(BUDGET));
        } catch (SQLException | DataAccessException e) {
            throw new KeelException(ProblemType.UNAVAILABLE, database.name() + "'s server does not answer, so it cannot be diagnosed;"
                    + " try again in a minute.");
        }
        return view(reports.insert(caller.teamId(), database.id(), app, configVar, checks));
    }

    /** The caller's report {@code id}; 404 when there is none younger than a month. */
    public Report show(Caller caller, String id) {
        return Ids.parse(id).flatMap(uuid -> reports.find(caller.teamId(), uuid)).map(Diagnosis::view)
                .orElseThrow(() -> new KeelException(ProblemType.NOT_FOUND, "There is no diagnosis report " + id
                        + " (reports are kept for " + DiagnoseReports.KEPT.toDays() + " days)."));
    }

    /** The host's 1-minute load average per CPU, as Keel's servers share the host; negative when the host does not say. */
    public double loadPerCpu() {
        double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return load < 0 ? -1 : load / Runtime.getRuntime().availableProcessors();
    }

    private static Report view(DiagnoseReports.Stored stored) {
        return new Report(stored.id(), stored.app(), stored.configVar(), stored.createdAt(), stored.checks());
    }
}
