package dev.keel.jobs;

import com.zaxxer.hikari.HikariDataSource;
import io.micronaut.context.ApplicationContext;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionException;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;
import org.quartz.impl.matchers.GroupMatcher;
import org.quartz.utils.ConnectionProvider;
import org.quartz.utils.DBConnectionManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

/**
 * Quartz with its clustered JDBC store in the catalog (tables from migrations/), on the catalog's
 * own connection pool; jobs are Micronaut beans, so they get their use cases injected. Several
 * Keel nodes would share the schedules and take over each other's jobs.
 */
@Singleton
public final class Jobs {
    private static final Logger LOG = LoggerFactory.getLogger(Jobs.class);
    private static final String GROUP = "keel";

    private final HikariDataSource catalog;
    private final ApplicationContext context;
    private final List<JobSchedule> schedules;
    private Scheduler scheduler;

    Jobs(HikariDataSource catalog, ApplicationContext context, List<JobSchedule> schedules) {
        this.catalog = catalog;
        this.context = context;
        this.schedules = schedules;
    }

    /**
     * Registers every capability's jobs and starts firing them. The scheduler is named after the
     * installation: Quartz clusters the nodes that share a name (and its tables), and keeps
     * schedulers and data sources in JVM-wide registries where two installations must not meet.
     */
    public synchronized void start(UUID installation) {
        String name = "keel-" + installation;
        String dataSource = name + "-catalog";
        DBConnectionManager.getInstance().addConnectionProvider(dataSource, new ConnectionProvider() {
            @Override
            public Connection getConnection() throws SQLException {
                return catalog.getConnection();
            }

            @Override
            public void shutdown() {
                // the pool belongs to Keel's catalog, which closes it
            }

            @Override
            public void initialize() {
                // the pool is ready when Keel's catalog is
            }
        });
        Properties properties = new Properties();
        properties.setProperty("org.quartz.scheduler.instanceName", name);
        // Quartz's AUTO id asks for the host name, which a machine without a resolvable one fails;
        // a cluster member needs only an id no other member uses.
        properties.setProperty("org.quartz.scheduler.instanceId", ProcessHandle.current().pid() + "-" + UUID.randomUUID());
        properties.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
        properties.setProperty("org.quartz.threadPool.threadCount", "3");
        properties.setProperty("org.quartz.jobStore.class", "org.quartz.impl.jdbcjobstore.JobStoreTX");
        properties.setProperty("org.quartz.jobStore.driverDelegateClass", "org.quartz.impl.jdbcjobstore.PostgreSQLDelegate");
        properties.setProperty("org.quartz.jobStore.tablePrefix", "qrtz_");
        properties.setProperty("org.quartz.jobStore.isClustered", "true");
        properties.setProperty("org.quartz.jobStore.clusterCheckinInterval", "5000");
        properties.setProperty("org.quartz.jobStore.misfireThreshold", "60000");
        properties.setProperty("org.quartz.jobStore.dataSource", dataSource);
        try {
            scheduler = new StdSchedulerFactory(properties).getScheduler();
            scheduler.setJobFactory((bundle, unused) -> guarded(bundle.getJobDetail().getJobClass()));
            for (JobSchedule schedule : schedules) {
                schedule.register(scheduler);
            }
            scheduler.start();
            LOG.info("Scheduler started with {} jobs", scheduler.getJobKeys(GroupMatcher.anyGroup()).size());
        } catch (SchedulerException e) {
            throw new IllegalStateException("could not start the scheduler: " + rootMessage(e), e);
        }
    }

    /** The job, run as a round of a loop: any failure, an Error too, is logged with the job's name, and it keeps its schedule. */
    private Job guarded(Class<? extends Job> type) {
        Job job = context.getBean(type);
        return execution -> Loops.round("Scheduled job " + type.getSimpleName(), () -> {
            try {
                job.execute(execution);
            } catch (JobExecutionException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root + ")";
    }

    /** Registers {@code job} to fire every {@code interval} (first after one interval), replacing an earlier registration. */
    public static void every(Scheduler scheduler, Class<? extends Job> job, Duration interval) throws SchedulerException {
        JobDetail detail = JobBuilder.newJob(job).withIdentity(job.getSimpleName(), GROUP).storeDurably().build();
        Trigger trigger = TriggerBuilder.newTrigger()
                .withIdentity(job.getSimpleName(), GROUP)
                .startAt(Date.from(Instant.now().plus(interval)))
                .withSchedule(SimpleScheduleBuilder.simpleSchedule()
                        .withIntervalInMilliseconds(interval.toMillis()).repeatForever().withMisfireHandlingInstructionNextWithRemainingCount())
                .build();
        scheduler.scheduleJob(detail, Set.of(trigger), true);
    }

    /** Runs {@code job} once now, outside its schedule (an operator's or a test's nudge). */
    public void triggerNow(Class<? extends Job> job) throws SchedulerException {
        scheduler.triggerJob(JobKey.jobKey(job.getSimpleName(), GROUP));
    }

    @PreDestroy
    synchronized void stop() throws SchedulerException {
        if (scheduler != null) {
            scheduler.shutdown(true);
        }
    }
}
