package dev.keel.archive;

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

import java.time.Duration;
import java.time.Instant;

/** The archive's recurring work on Quartz: due backups, retention, continuity checks. Each job delegates to one use case. */
@Singleton
final class ArchiveJobs implements JobSchedule {
    private final Duration backups;
    private final Duration retention;
    private final Duration check;

    ArchiveJobs(@Value("${keel.archive.backup-dispatch-interval}") String backups, @Value("${keel.archive.retention-interval}") String retention,
                @Value("${keel.archive.check-interval}") String check) {
        this.backups = Durations.parse("keel.archive.backup-dispatch-interval", backups);
        this.retention = Durations.parse("keel.archive.retention-interval", retention);
        this.check = Durations.parse("keel.archive.check-interval", check);
    }

    @Override
    public void register(Scheduler scheduler) throws SchedulerException {
        Jobs.every(scheduler, BackupScheduleJob.class, backups);
        Jobs.every(scheduler, RetentionJob.class, retention);
        Jobs.every(scheduler, ContinuityCheckJob.class, check);
    }

    @Singleton
    @DisallowConcurrentExecution
    static final class BackupScheduleJob implements Job {
        private final ScheduledBackups scheduled;

        BackupScheduleJob(ScheduledBackups scheduled) {
            this.scheduled = scheduled;
        }

        @Override
        public void execute(JobExecutionContext context) {
            scheduled.dispatch(Instant.now());
        }
    }

    @Singleton
    @DisallowConcurrentExecution
    static final class RetentionJob implements Job {
        private final Retention retention;

        RetentionJob(Retention retention) {
            this.retention = retention;
        }

        @Override
        public void execute(JobExecutionContext context) {
            retention.applyAll(Instant.now());
        }
    }

    @Singleton
    @DisallowConcurrentExecution
    static final class ContinuityCheckJob implements Job {
        private final ContinuityCheck check;

        ContinuityCheckJob(ContinuityCheck check) {
            this.check = check;
        }

        @Override
        public void execute(JobExecutionContext context) {
            check.runAll();
        }
    }
}
