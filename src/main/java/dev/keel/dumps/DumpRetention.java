package dev.keel.dumps;

import dev.keel.databases.Database;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * How many logical backups a database keeps, by plan, as Heroku does: the newest scheduled backup
 * of each of the last {@code daily} days that have one, the newest of each of the {@code weekly}
 * ISO weeks before the weeks of those days, and the {@code manual} newest manual backups. Failed and canceled
 * backups go after a day (they store nothing). Restores are records only and are kept.
 */
@Singleton
final class DumpRetention {
    private static final Logger LOG = LoggerFactory.getLogger(DumpRetention.class);
    private static final Duration UNFINISHED_KEPT = Duration.ofDays(1);

    private final Plans plans;
    private final TransferRepository transfers;
    private final DumpObjects objects;

    DumpRetention(Plans plans, TransferRepository transfers, DumpObjects objects) {
        this.plans = plans;
        this.transfers = transfers;
        this.objects = objects;
    }

    /** Backups a plan keeps: daily and weekly scheduled ones, and manual ones. */
    record Policy(int daily, int weekly, int manual) {
        static Policy of(Plan plan) {
            return switch (plan.tier()) {
                case "essential" -> new Policy(7, 0, 5);
                case "premium" -> new Policy(7, 12, 50);
                default -> new Policy(7, 4, 25);
            };
        }
    }

    /** Applies the plan's retention to the database's backups; returns those removed. */
    List<Transfer> apply(Database database) {
        Policy policy = Policy.of(plans.require(database.plan()));
        List<Transfer> expired = expired(transfers.backups(database.id()), policy, Instant.now());
        for (Transfer backup : expired) {
            objects.remove(backup);
            transfers.delete(backup.id());
        }
        if (!expired.isEmpty()) {
            LOG.info("Retention removed {} logical backups of {}: {}", expired.size(), database.name(),
                    expired.stream().map(Transfer::name).toList());
        }
        return expired;
    }

    /** Which of {@code backups} (one database's, newest first) the policy lets go at {@code now}. */
    static List<Transfer> expired(List<Transfer> all, Policy policy, Instant now) {
        List<Transfer> backups = all.stream().sorted(Comparator.comparing(Transfer::createdAt).reversed()).toList();
        Set<Transfer> kept = new HashSet<>();
        Set<LocalDate> days = new HashSet<>();
        Set<String> dailyWeeks = new HashSet<>();
        for (Transfer backup : completed(backups, true)) {
            if (days.size() < policy.daily() && days.add(day(backup))) {
                kept.add(backup);
                dailyWeeks.add(week(backup));
            }
        }
        Set<String> weeks = new HashSet<>();
        for (Transfer backup : completed(backups, true)) {
            String week = week(backup);
            if (!kept.contains(backup) && !dailyWeeks.contains(week) && weeks.size() < policy.weekly() && weeks.add(week)) {
                kept.add(backup);
            }
        }
        completed(backups, false).stream().limit(policy.manual()).forEach(kept::add);
        List<Transfer> expired = new ArrayList<>();
        for (Transfer backup : backups) {
            boolean stale = backup.finished() && backup.state() != TransferState.COMPLETED
                    && backup.createdAt().isBefore(now.minus(UNFINISHED_KEPT));
            if (stale || backup.state() == TransferState.COMPLETED && !kept.contains(backup)) {
                expired.add(backup);
            }
        }
        return expired;
    }

    private static List<Transfer> completed(List<Transfer> backups, boolean scheduled) {
        return backups.stream().filter(b -> b.state() == TransferState.COMPLETED && (b.scheduleName() != null) == scheduled).toList();
    }

    private static LocalDate day(Transfer backup) {
        return backup.createdAt().atZone(ZoneOffset.UTC).toLocalDate();
    }

    private static String week(Transfer backup) {
        LocalDate day = day(backup);
        return day.get(IsoFields.WEEK_BASED_YEAR) + "-W" + day.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR);
    }
}
