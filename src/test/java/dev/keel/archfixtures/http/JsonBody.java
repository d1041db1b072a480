package dev.keel.archfixtures.http;

/** Stands for Keel's HTTP conventions, which belong to controllers and filters. */
public final class JsonBody {
    public static String read() {
        return "{}";
    }
}
