package dev.keel.testing;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * System calls as {@code strace -f -ttt -y} traced them (Debian's strace): which files a process
 * fsynced, renamed or removed, and when, to prove what reaches the disk before what.
 */
public final class SyscallTrace {
    // One line per call, or (a thread's call interrupted by another's in the trace) an "unfinished" line with the
    // first arguments and a "resumed" line of the same thread with the rest and the result: a call counts when it
    // returned 0, at the time it returned. strace pads the pid to five columns: a pid of four digits or fewer is
    // followed by more than one space.
    private static final Pattern WHOLE = Pattern.compile("^(\\d+)\\s+(\\d+\\.\\d+) (\\w+)\\((.*)\\)\\s+= 0$");
    private static final Pattern UNFINISHED = Pattern.compile("^(\\d+)\\s+\\d+\\.\\d+ (\\w+)\\((.*) <unfinished \\.\\.\\.>$");
    private static final Pattern RESUMED = Pattern.compile("^(\\d+)\\s+(\\d+\\.\\d+) <\\.\\.\\. (\\w+) resumed>(.*)\\)\\s+= 0$");
    /** A file descriptor as {@code -y} prints it, {@code 5</var/lib/keel/x>}: its path. */
    private static final Pattern FD = Pattern.compile("^\\d+<([^>]*)>");

    private SyscallTrace() {
    }

    /** A call that returned 0: its name, its arguments as strace printed them, and when it returned. */
    public record Call(Instant at, String name, String arguments) {
        /** The path of the file descriptor the call was given first (fsync's, fdatasync's), if it was one. */
        public Optional<String> descriptorPath() {
            Matcher fd = FD.matcher(arguments);
            return fd.find() ? Optional.of(fd.group(1)) : Optional.empty();
        }

        public boolean isSync() {
            return name.equals("fsync") || name.equals("fdatasync");
        }
    }

    /** The words that run {@code command} under strace, following its threads and children, tracing {@code calls}. */
    public static List<String> command(Path trace, String calls, List<String> command) {
        List<String> traced = new ArrayList<>(List.of("strace", "-f", "--seccomp-bpf", "-I", "1", "-qq", "-e", "trace=" + calls,
                "-e", "signal=none", "-y", "-ttt", "-o", trace.toString()));
        traced.addAll(command);
        return traced;
    }

    /** The calls in {@code trace} that returned 0, in the order they returned. */
    public static List<Call> read(Path trace) throws IOException {
        List<Call> calls = new ArrayList<>();
        Map<String, Call> unfinished = new HashMap<>();
        for (String raw : Files.readAllLines(trace)) {
            String line = raw.strip();
            Matcher whole = WHOLE.matcher(line);
            Matcher started = UNFINISHED.matcher(line);
            Matcher resumed = RESUMED.matcher(line);
            if (whole.matches()) {
                calls.add(new Call(instant(whole.group(2)), whole.group(3), whole.group(4)));
            } else if (started.matches()) {
                unfinished.put(started.group(1), new Call(Instant.EPOCH, started.group(2), started.group(3)));
            } else if (resumed.matches() && unfinished.containsKey(resumed.group(1))) {
                Call first = unfinished.remove(resumed.group(1));
                calls.add(new Call(instant(resumed.group(2)), first.name(), first.arguments() + resumed.group(4)));
            }
        }
        calls.sort(Comparator.comparing(Call::at));
        return calls;
    }

    private static Instant instant(String epochSeconds) {
        BigDecimal seconds = new BigDecimal(epochSeconds);
        return Instant.ofEpochSecond(seconds.longValue(), seconds.remainder(BigDecimal.ONE).movePointRight(9).longValue());
    }
}
