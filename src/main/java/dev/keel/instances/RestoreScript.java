package dev.keel.instances;

/**
 * The {@code restore_command} of an instance being restored: a POSIX shell script, never a JVM
 * per file. It asks Keel for a WAL file by leaving {@code <name>.wanted} in the instance's
 * exchange directory and waits for Keel's answer there: the file itself (checked and complete,
 * put there by rename, often before it was asked for), {@code <name>.missing} (the archive has no
 * such file: exit 1, which ends recovery or a history probe), or {@code failed} (the archive is
 * damaged: exit 126, above 125, so that recovery stops with FATAL instead of promoting early).
 * A standby ({@code standby.signal} in its data directory, the script's working directory) never
 * promotes on a missing file, it streams instead; so once Keel has ended its restore, or does not
 * answer, the script says "missing" to a standby rather than stopping it.
 */
final class RestoreScript {
    /** How long the script waits for Keel's answer before it gives up (Keel is down). */
    static final int PATIENCE_SECONDS = 600;

    private RestoreScript() {
    }

    static String render(String exchangeDir) {
        return """
                #!/bin/sh
                # Written by Keel: Postgres's restore_command. See dev.keel.instances.RestoreScript.
                set -u
                name="$1"
                target="$2"
                dir=%s
                polls=0
                gone=126
                [ -f standby.signal ] && gone=1
                while :; do
                  if [ -f "$dir/failed" ]; then
                    echo "keel-restore: $(cat "$dir/failed")" >&2
                    exit 126
                  fi
                  if [ -f "$dir/$name" ]; then
                    rm -f "$dir/$name.wanted"
                    case "$name" in
                      *.history) cp "$dir/$name" "$target" ;;
                      *) mv "$dir/$name" "$target" ;;
                    esac
                    exit 0
                  fi
                  if [ -f "$dir/$name.missing" ]; then
                    rm -f "$dir/$name.missing" "$dir/$name.wanted"
                    exit 1
                  fi
                  if [ ! -d "$dir" ]; then
                    echo "keel-restore: $dir is gone; Keel ended this restore" >&2
                    exit "$gone"
                  fi
                  [ -f "$dir/$name.wanted" ] || : > "$dir/$name.wanted"
                  polls=$((polls + 1))
                  if [ "$polls" -gt %d ]; then
                    echo "keel-restore: Keel did not answer for $name within %d s" >&2
                    exit "$gone"
                  fi
                  sleep 0.02
                done
                """.formatted(ArchiveScript.shellQuote(exchangeDir), PATIENCE_SECONDS * 50, PATIENCE_SECONDS);
    }
}
