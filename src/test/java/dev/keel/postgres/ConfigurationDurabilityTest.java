package dev.keel.postgres;

import dev.keel.PrivateFiles;
import dev.keel.testing.SyscallTrace;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server's files survive a power cut whole and in order, traced with {@code strace} in a JVM of
 * their own: a file is fsynced before it is renamed into place and its directory after; the
 * configuration a change keeps, and its mark, reach the disk before the files they keep are
 * replaced; kept files put back reach it before their mark goes; and the mark's removal before
 * the kept files'. Without those, a machine that loses power may come back with an empty
 * pg_hba.conf (the server does not start), or a mark over a half-kept set that a refusal puts back.
 */
class ConfigurationDurabilityTest {
    private static final Pattern QUOTED = Pattern.compile("\"([^\"]*)\"");

    /** Run under strace: the changes whose calls the test reads, in a directory of their own. */
    public static final class Changes {
        public static void main(String[] args) throws Exception {
            Path dir = Path.of(args[0]);
            Files.writeString(dir.resolve("postgresql.conf"), "# initdb's\n");
            change(dir, "one");
            ServerFiles.forgetPrevious(dir); // the server accepted "one"
            change(dir, "two");
            ServerFiles.forgetPrevious(dir); // and "two"
            change(dir, "three");
            ServerFiles.restorePrevious(dir); // and refused "three"
        }

        private static void change(Path dir, String version) {
            ServerFiles.replaceConfiguration(dir, Map.of("application_name", version),
                    List.of(HbaRule.hostssl(version, "all", "scram-sha-256")), ServerUser.self());
        }
    }

    @Test
    void aServersFilesReachTheDiskWholeAndInTheOrderTheirChangesNeed(@TempDir Path dir) throws Exception {
        Path server = Files.createDirectory(dir.resolve("data")).toRealPath();
        Path trace = dir.resolve("calls.trace");
        List<String> java = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), Changes.class.getName(), server.toString());
        Process process = new ProcessBuilder(SyscallTrace.command(trace, "fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat", java))
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile()).start();
        assertThat(process.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)).as("the traced JVM ended").isTrue();
        assertThat(process.exitValue()).as(Files.readString(dir.resolve("out.txt"))).isZero();
        List<SyscallTrace.Call> calls = SyscallTrace.read(trace).stream().filter(call -> touches(call, server)).toList();
        Calls in = new Calls(calls, trace);

        // A file written: its content before its rename, the rename before the directory.
        int renamed = in.first(renameTo(server.resolve("keel.conf")), 0);
        in.first(sync(server.resolve(".keel.conf.tmp")), 0, renamed);
        in.first(sync(server), renamed);

        // "two" kept "one"'s files: those and their mark reach the disk before "two"'s keel.conf takes "one"'s place.
        int forgotOne = in.first(unlink(server.resolve("keel.previous.complete")), 0);
        int keptOne = in.first(renameTo(server.resolve("keel.conf.previous")), forgotOne);
        int syncedMark = in.first(sync(server.resolve("keel.previous.complete")), keptOne);
        int syncedKept = in.first(sync(server), syncedMark);
        int wroteTwo = in.first(renameTo(server.resolve("keel.conf")), keptOne);
        assertThat(syncedKept).as("the kept files synced before they are replaced").isLessThan(wroteTwo);

        // "two" accepted: its mark's removal reaches the disk before the files it marked go.
        int forgotTwo = in.first(unlink(server.resolve("keel.previous.complete")), wroteTwo);
        int droppedTwo = in.first(unlink(server.resolve("keel.conf.previous")), forgotTwo);
        in.first(sync(server), forgotTwo, droppedTwo);

        // "three" refused: "two"'s files put back reach the disk before their mark goes.
        int putBack = in.first(renameFrom(server.resolve("keel.conf.previous")), droppedTwo);
        int unmarked = in.first(unlink(server.resolve("keel.previous.complete")), putBack);
        in.first(sync(server), putBack, unmarked);
        assertThat(server.resolve("keel.conf")).content().contains("two");
    }

    /** The calls read, found in order. */
    private record Calls(List<SyscallTrace.Call> calls, Path trace) {
        /** The index of the first call at or after {@code from} that matches. */
        int first(Predicate<SyscallTrace.Call> matching, int from) {
            return first(matching, from, calls.size());
        }

        /** The index of the first call within {@code [from, before)} that matches. */
        int first(Predicate<SyscallTrace.Call> matching, int from, int before) {
            for (int i = from; i < before; i++) {
                if (matching.test(calls.get(i))) {
                    return i;
                }
            }
            throw new AssertionError("no such call between the " + from + "th and the " + before + "th of " + describe() + " (" + trace + ")");
        }

        private String describe() {
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < calls.size(); i++) {
                lines.add(i + " " + calls.get(i).name() + "(" + calls.get(i).arguments() + ")");
            }
            return String.join("\n", lines);
        }
    }

    private static boolean touches(SyscallTrace.Call call, Path server) {
        return call.arguments().contains(server.toString());
    }

    private static Predicate<SyscallTrace.Call> sync(Path path) {
        return call -> call.isSync() && call.descriptorPath().orElse("").equals(path.toString());
    }

    private static Predicate<SyscallTrace.Call> renameTo(Path path) {
        return call -> call.name().startsWith("rename") && quoted(call).size() == 2 && quoted(call).get(1).equals(path.toString());
    }

    private static Predicate<SyscallTrace.Call> renameFrom(Path path) {
        return call -> call.name().startsWith("rename") && quoted(call).size() == 2 && quoted(call).get(0).equals(path.toString());
    }

    private static Predicate<SyscallTrace.Call> unlink(Path path) {
        return call -> call.name().startsWith("unlink") && quoted(call).size() == 1 && quoted(call).get(0).equals(path.toString());
    }

    private static List<String> quoted(SyscallTrace.Call call) {
        List<String> strings = new ArrayList<>();
        Matcher matcher = QUOTED.matcher(call.arguments());
        while (matcher.find()) {
            strings.add(matcher.group(1));
        }
        return strings;
    }
}
