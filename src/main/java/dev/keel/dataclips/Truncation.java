package dev.keel.dataclips;

import java.util.Locale;

/**
 * Why a result holds less than its query returned. The code is stable (API, JSON download,
 * catalog); the detail sentence is for people and names the setting that decides.
 */
enum Truncation {
    /** The row cap ended the result. */
    ROW_LIMIT("row_limit"),
    /** The bytes-per-result cap ended the result. */
    RESULT_BYTES("result_bytes"),
    /** The clip's time limit ended the result while its rows were arriving. */
    TIME_LIMIT("time_limit"),
    /** The result is whole, but some of its cells were cut at the bytes-per-cell cap. */
    CELL_BYTES("cell_bytes");

    private final String code;

    Truncation(String code) {
        this.code = code;
    }

    String code() {
        return code;
    }

    static Truncation ofCode(String code) {
        for (Truncation t : values()) {
            if (t.code.equals(code)) {
                return t;
            }
        }
        throw new IllegalArgumentException("no truncation " + code);
    }

    /**
     * The sentence stored with the result: what cut it, after how many rows, and whether cells
     * were cut as well ({@code cellLimit} bytes, when {@code cellsCut}).
     */
    String detail(Caps caps, long rows, boolean cellsCut, int cellLimit, int timeoutSeconds) {
        String cells = "cells longer than " + bytes(cellLimit) + " were cut to that length ("
                + (cellLimit < caps.cellBytes() ? "a row's cells together keep at most " + bytes(caps.rowBytes()) + ", "
                        + bytes(cellLimit) + " each over its columns; KEEL_DATACLIPS_CELL_BYTES is " + bytes(caps.cellBytes())
                        : "KEEL_DATACLIPS_CELL_BYTES") + ")";
        String end = switch (this) {
            case ROW_LIMIT -> "The result was cut at the row limit of " + count(caps.rowLimit()) + " rows (KEEL_DATACLIPS_ROW_LIMIT).";
            case RESULT_BYTES -> "The result was cut after " + count(rows) + " rows, at " + bytes(caps.resultBytes())
                    + " (KEEL_DATACLIPS_RESULT_BYTES).";
            case TIME_LIMIT -> "The result was cut after " + count(rows) + " rows: the dataclip's time limit of " + timeoutSeconds
                    + " s ran out while its rows arrived.";
            case CELL_BYTES -> "Every row is here, but " + cells + ".";
        };
        return this != CELL_BYTES && cellsCut ? end + " Also, " + cells + "." : end;
    }

    static String bytes(long n) {
        if (n >= 1 << 30 && n % (1 << 30) == 0) {
            return (n >> 30) + " GB";
        }
        if (n >= 1 << 20 && n % (1 << 20) == 0) {
            return (n >> 20) + " MB";
        }
        if (n >= 1 << 10 && n % (1 << 10) == 0) {
            return (n >> 10) + " kB";
        }
        return count(n) + " bytes";
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }
}
