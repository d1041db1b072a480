package dev.keel;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keel's own background threads: daemons, so that nothing they wait on keeps a stopping JVM
 * alive (shutdown is {@link ShutdownDeadline}'s), each named after its work for thread dumps.
 */
public final class DaemonThreads {
    private DaemonThreads() {
    }

    /** A factory whose every thread is called {@code name}. */
    public static ThreadFactory named(String name) {
        return work -> daemon(work, name);
    }

    /** A factory that names its threads {@code prefix-1}, {@code prefix-2}, and so on. */
    public static ThreadFactory numbered(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return work -> daemon(work, prefix + "-" + count.incrementAndGet());
    }

    /** A daemon thread {@code name} that runs {@code work}, not started yet. */
    public static Thread daemon(Runnable work, String name) {
        Thread thread = new Thread(work, name);
        thread.setDaemon(true);
        return thread;
    }
}
