package dev.keel.operations;

import dev.keel.jobs.JobSchedule;
import dev.keel.jobs.Jobs;
import dev.keel.postgres.Durations;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/**
 * The operations' recurring work on Quartz: forgetting the records of operations that finished
 * longer ago than {@code keel.operations.keep} (KEEL_OPERATIONS_KEEP), so that the catalog does
 * not grow with every backup and settings change for the installation's lifetime.
 */
@Singleton
final class OperationJobs implements JobSchedule {
    /** Rows deleted per statement: a first prune of a years-old catalog neither holds long locks nor one huge transaction. */
    static final int BATCH = 1000;
    private final Duration interval;

    OperationJobs(@Value("${keel.operations.prune-interval}") String interval) {
        this.interval = Durations.parse("KEEL_OPERATIONS_PRUNE_INTERVAL", interval);
    }

    @Override
    public void register(Scheduler scheduler) throws SchedulerException {
        Jobs.every(scheduler, PruneJob.class, interval);
    }

    @Singleton
    @DisallowConcurrentExecution
    static final class PruneJob implements Job {
        private static final Logger LOG = LoggerFactory.getLogger(PruneJob.class);
        private final OperationRepository operations;
        private final Duration keep;

        PruneJob(OperationRepository operations, @Value("${keel.operations.keep}") String keep) {
            this.operations = operations;
            this.keep = Durations.parse("KEEL_OPERATIONS_KEEP", keep);
        }

        @Override
        public void execute(JobExecutionContext context) {
            prune(OffsetDateTime.now(ZoneOffset.UTC).minus(keep));
        }

        /** Forgets every operation that finished before {@code before} (a failover of a live database excepted); how many. */
        int prune(OffsetDateTime before) {
            int forgotten = 0;
            for (int batch = operations.prune(before, BATCH); batch > 0; batch = operations.prune(before, BATCH)) {
                forgotten += batch;
            }
            if (forgotten > 0) {
                LOG.info("Forgot {} operations that finished before {} (KEEL_OPERATIONS_KEEP {})", forgotten, before, keep);
            }
            return forgotten;
        }
    }
}
