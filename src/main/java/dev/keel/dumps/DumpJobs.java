package dev.keel.dumps;

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

/** Scheduled logical backups on Quartz: every few minutes the due ones start. */
@Singleton
final class DumpJobs implements JobSchedule {
    private final Duration interval;

    DumpJobs(@Value("${keel.backups.logical-dispatch-interval:5min}") String interval) {
        this.interval = Durations.parse("KEEL_BACKUPS_LOGICAL_DISPATCH_INTERVAL", interval);
    }

    @Override
    public void register(Scheduler scheduler) throws SchedulerException {
        Jobs.every(scheduler, LogicalBackupScheduleJob.class, interval);
    }

    @Singleton
    @DisallowConcurrentExecution
    static final class LogicalBackupScheduleJob implements Job {
        private final ScheduledDumps scheduled;

        LogicalBackupScheduleJob(ScheduledDumps scheduled) {
            this.scheduled = scheduled;
        }

        @Override
        public void execute(JobExecutionContext context) {
            scheduled.dispatch(Instant.now());
        }
    }
}
