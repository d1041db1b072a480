package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The fair queue's rules on their own: turns between teams, runs per team, queue length, and the rate with its Retry-After. */
class RunQueueTest {
    private static final UUID A = UUID.randomUUID();
    private static final UUID B = UUID.randomUUID();
    private static final long WAIT = Timeouts.REQUEST.toMillis();

    @Test
    void anotherTeamsRunGoesBeforeTheQueueOfATeamThatJustRan() throws Exception {
        RunQueue queue = new RunQueue("test", 1, 1, 10, 100, System::nanoTime);
        try {
            List<String> order = new CopyOnWriteArrayList<>();
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch started = new CountDownLatch(1);
            CompletableFuture<String> a1 = queue.submit(A, () -> {
                started.countDown();
                await(release);
                order.add("A1");
                return "A1";
            });
            assertThat(started.await(WAIT, TimeUnit.MILLISECONDS)).isTrue();
            List<CompletableFuture<String>> rest = List.of(queue.submit(A, () -> add(order, "A2")), queue.submit(A, () -> add(order, "A3")),
                    queue.submit(B, () -> add(order, "B1")));
            release.countDown();
            a1.get(WAIT, TimeUnit.MILLISECONDS);
            for (CompletableFuture<String> run : rest) {
                run.get(WAIT, TimeUnit.MILLISECONDS);
            }
            assertThat(order).containsExactly("A1", "B1", "A2", "A3");
        } finally {
            queue.stop();
        }
    }

    @Test
    void aTeamRunsNoMoreThanItsConcurrencyWhileARunnerIsFreeForOthers() throws Exception {
        RunQueue queue = new RunQueue("test", 2, 1, 10, 100, System::nanoTime);
        try {
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<String> a1 = queue.submit(A, () -> {
                await(release);
                return "A1";
            });
            CompletableFuture<String> a2 = queue.submit(A, () -> "A2");
            assertThat(queue.submit(B, () -> "B1").get(WAIT, TimeUnit.MILLISECONDS)).isEqualTo("B1");
            assertThat(a2).isNotDone();
            release.countDown();
            assertThat(a1.get(WAIT, TimeUnit.MILLISECONDS)).isEqualTo("A1");
            assertThat(a2.get(WAIT, TimeUnit.MILLISECONDS)).isEqualTo("A2");
        } finally {
            queue.stop();
        }
    }

    @Test
    void aTeamPastItsRunsAndQueueOrItsRateIsRefusedWithTheSecondsToWait() throws Exception {
        AtomicLong clock = new AtomicLong();
        RunQueue queue = new RunQueue("test", 1, 1, 1, 3, clock::get);
        try {
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<String> running = queue.submit(A, () -> {
                await(release);
                return "running";
            });
            CompletableFuture<String> waiting = queue.submit(A, () -> "waiting");
            assertThatThrownBy(() -> queue.submit(A, () -> "third")).isInstanceOfSatisfying(KeelException.class, e -> {
                assertThat(e.getMessage()).startsWith("Your team has ").contains("KEEL_DATACLIPS_TEAM_CONCURRENCY 1, KEEL_DATACLIPS_TEAM_QUEUE 1");
                assertThat(e.retryAfterSeconds()).isEqualTo(RunQueue.FULL_RETRY_SECONDS);
            });
            release.countDown();
            running.get(WAIT, TimeUnit.MILLISECONDS);
            waiting.get(WAIT, TimeUnit.MILLISECONDS);
            assertThat(queue.submit(A, () -> "third").get(WAIT, TimeUnit.MILLISECONDS)).isEqualTo("third"); // the third of 3 a minute
            assertThatThrownBy(() -> queue.submit(A, () -> "fourth")).isInstanceOfSatisfying(KeelException.class, e -> {
                assertThat(e.getMessage()).isEqualTo("Your team started 3 dataclip runs within the last minute, the most it may"
                        + " (KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE); try again in 20 s.");
                assertThat(e.retryAfterSeconds()).isEqualTo(20);
            });
            assertThat(queue.submit(B, () -> "other team").get(WAIT, TimeUnit.MILLISECONDS)).isEqualTo("other team");
            clock.addAndGet(TimeUnit.SECONDS.toNanos(20));
            assertThat(queue.submit(A, () -> "fourth").get(WAIT, TimeUnit.MILLISECONDS)).isEqualTo("fourth");
        } finally {
            queue.stop();
        }
    }

    private static String add(List<String> order, String run) {
        order.add(run);
        return run;
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(WAIT, TimeUnit.MILLISECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
