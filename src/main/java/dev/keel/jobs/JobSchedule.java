package dev.keel.jobs;

import org.quartz.Scheduler;
import org.quartz.SchedulerException;

/**
 * A capability's recurring jobs. {@link Jobs} asks every implementation to put its jobs and
 * triggers into the scheduler (replacing what an earlier start put there) before it starts.
 */
public interface JobSchedule {
    void register(Scheduler scheduler) throws SchedulerException;
}
