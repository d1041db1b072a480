package dev.keel.instances;

/**
 * The {@code archive_command} of every instance: a POSIX shell script, never a JVM per segment.
 * It copies the finished WAL file into the instance's spool directory, fsyncs it, and only then
 * gives it its final name (and fsyncs the directory), so Keel never sees a partial file and a
 * crash never loses one Postgres was told is archived. When too many files wait (Keel down, the
 * object store unreachable), it fails, and Postgres keeps the WAL until Keel catches up.
 */
final class ArchiveScript {
    private ArchiveScript() {
    }

    static String render(String spoolDir, int maxWaiting) {
        return """
                #!/bin/sh
                # Written by Keel: Postgres's archive_command. See dev.keel.instances.ArchiveScript.
                set -eu
                src="$1"
                name="$2"
                spool=%s
                max=%d
                # Handed off already (Postgres asks again after a crash): Keel has or will upload it.
                if [ -f "$spool/$name" ]; then exit 0; fi
                waiting=$(find "$spool" -maxdepth 1 -type f ! -name '.*' | wc -l)
                if [ "$waiting" -ge "$max" ]; then
                  echo "keel-archive: $waiting WAL files wait in $spool for upload (at most $max); Postgres keeps $name until Keel catches up" >&2
                  exit 1
                fi
                tmp="$spool/.$name.tmp"
                cp "$src" "$tmp"
                sync "$tmp"
                mv "$tmp" "$spool/$name"
                sync "$spool"
                """.formatted(shellQuote(spoolDir), maxWaiting);
    }

    /** {@code value} as one single-quoted shell word. */
    static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }
}
