package dev.keel.postgres;

/** A child process exited non-zero or timed out; carries the tail of what it printed. */
public final class CommandFailedException extends RuntimeException {
    private final int exitCode;
    private final String output;

    CommandFailedException(String command, int exitCode, String output) {
        super(command + (exitCode < 0 ? " timed out" : " exited with " + exitCode) + (output.isBlank() ? "" : ": " + output.strip()));
        this.exitCode = exitCode;
        this.output = output;
    }

    public int exitCode() {
        return exitCode;
    }

    public String output() {
        return output;
    }
}
