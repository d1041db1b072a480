package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * An SVG chart drawn on the server, so the share page needs no script: a line over time when the
 * result has a date or timestamp column and a numeric one, else bars per category when it has a
 * text column and a numeric one. Null when neither applies.
 */
final class Chart {
    private static final int WIDTH = 800;
    private static final int HEIGHT = 320;
    private static final int PAD_LEFT = 70;
    private static final int PAD_BOTTOM = 40;
    private static final int PAD = 16;
    private static final int MAX_BARS = 40;
    private static final DateTimeFormatter PG_TIMESTAMP = new DateTimeFormatterBuilder()
            .appendPattern("yyyy-MM-dd HH:mm:ss").optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true).optionalEnd()
            .toFormatter(Locale.ROOT);
    private static final DateTimeFormatter PG_TIMESTAMPTZ = new DateTimeFormatterBuilder().append(PG_TIMESTAMP)
            .appendPattern("[XXXXX][XXX][X]").toFormatter(Locale.ROOT);

    private Chart() {
    }

    @Nullable
    static String svg(ClipResult result, List<String[]> rows) {
        List<ColumnType> types = result.types();
        int y = firstIndex(types, -1, ColumnType::numeric);
        if (y < 0) {
            return null;
        }
        int time = firstIndex(types, y, ColumnType::time);
        if (time >= 0) {
            return line(result, rows, time, y);
        }
        int category = firstIndex(types, y, ColumnType::category);
        return category >= 0 ? bars(result, rows, category, y) : null;
    }

    private static int firstIndex(List<ColumnType> types, int except, Predicate<ColumnType> test) {
        for (int i = 0; i < types.size(); i++) {
            if (i != except && test.test(types.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private record Point(double x, double y, String label) {
    }

    private static String line(ClipResult result, List<String[]> rows, int xColumn, int yColumn) {
        List<Point> points = new ArrayList<>();
        for (String[] row : rows) {
            Double x = epochMillis(row[xColumn]);
            Double y = number(row[yColumn]);
            if (x != null && y != null) {
                points.add(new Point(x, y, row[xColumn]));
            }
        }
        if (points.size() < 2) {
            return null;
        }
        points.sort(Comparator.comparingDouble(Point::x));
        double minX = points.get(0).x();
        double maxX = points.get(points.size() - 1).x();
        double[] yRange = range(points);
        StringBuilder polyline = new StringBuilder();
        for (Point p : points) {
            polyline.append(format(scale(p.x(), minX, maxX, PAD_LEFT, WIDTH - PAD))).append(',')
                    .append(format(scale(p.y(), yRange[0], yRange[1], HEIGHT - PAD_BOTTOM, PAD))).append(' ');
        }
        StringBuilder svg = open(result, xColumn, yColumn, "line");
        axes(svg, yRange);
        svg.append("<polyline class=\"series\" fill=\"none\" points=\"").append(polyline.toString().strip()).append("\"/>");
        svg.append("<text class=\"tick\" x=\"").append(PAD_LEFT).append("\" y=\"").append(HEIGHT - 12).append("\">")
                .append(Html.escape(points.get(0).label())).append("</text>");
        svg.append("<text class=\"tick\" text-anchor=\"end\" x=\"").append(WIDTH - PAD).append("\" y=\"").append(HEIGHT - 12).append("\">")
                .append(Html.escape(points.get(points.size() - 1).label())).append("</text>");
        return svg.append("</svg>").toString();
    }

    private static String bars(ClipResult result, List<String[]> rows, int xColumn, int yColumn) {
        List<Point> points = new ArrayList<>();
        for (String[] row : rows) {
            Double y = number(row[yColumn]);
            if (y != null && points.size() < MAX_BARS) {
                points.add(new Point(points.size(), y, row[xColumn] == null ? "(null)" : row[xColumn]));
            }
        }
        if (points.isEmpty()) {
            return null;
        }
        double[] yRange = range(points);
        yRange[0] = Math.min(0, yRange[0]);
        StringBuilder svg = open(result, xColumn, yColumn, "bars");
        axes(svg, yRange);
        double slot = (WIDTH - PAD - PAD_LEFT) / (double) points.size();
        double zero = scale(0, yRange[0], yRange[1], HEIGHT - PAD_BOTTOM, PAD);
        for (Point p : points) {
            double top = scale(p.y(), yRange[0], yRange[1], HEIGHT - PAD_BOTTOM, PAD);
            double x = PAD_LEFT + p.x() * slot + slot * 0.1;
            svg.append("<rect class=\"bar\" x=\"").append(format(x)).append("\" y=\"").append(format(Math.min(top, zero)))
                    .append("\" width=\"").append(format(slot * 0.8)).append("\" height=\"").append(format(Math.abs(zero - top)))
                    .append("\"><title>").append(Html.escape(p.label())).append(": ").append(format(p.y())).append("</title></rect>");
            if (points.size() <= 12) {
                svg.append("<text class=\"tick\" text-anchor=\"middle\" x=\"").append(format(x + slot * 0.4)).append("\" y=\"")
                        .append(HEIGHT - 20).append("\">").append(Html.escape(shorten(p.label()))).append("</text>");
            }
        }
        return svg.append("</svg>").toString();
    }

    private static StringBuilder open(ClipResult result, int x, int y, String kind) {
        String label = result.fields().get(y) + " by " + result.fields().get(x);
        return new StringBuilder("<svg class=\"chart chart-").append(kind).append("\" role=\"img\" aria-label=\"").append(Html.escape(label))
                .append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT)
                .append("\" preserveAspectRatio=\"xMidYMid meet\" xmlns=\"http://www.w3.org/2000/svg\">");
    }

    private static void axes(StringBuilder svg, double[] yRange) {
        int bottom = HEIGHT - PAD_BOTTOM;
        svg.append("<line class=\"axis\" x1=\"").append(PAD_LEFT).append("\" y1=\"").append(PAD).append("\" x2=\"").append(PAD_LEFT)
                .append("\" y2=\"").append(bottom).append("\"/>");
        svg.append("<line class=\"axis\" x1=\"").append(PAD_LEFT).append("\" y1=\"").append(bottom).append("\" x2=\"").append(WIDTH - PAD)
                .append("\" y2=\"").append(bottom).append("\"/>");
        svg.append("<text class=\"tick\" text-anchor=\"end\" x=\"").append(PAD_LEFT - 6).append("\" y=\"").append(PAD + 10).append("\">")
                .append(format(yRange[1])).append("</text>");
        svg.append("<text class=\"tick\" text-anchor=\"end\" x=\"").append(PAD_LEFT - 6).append("\" y=\"").append(bottom).append("\">")
                .append(format(yRange[0])).append("</text>");
    }

    private static double[] range(List<Point> points) {
        double min = points.stream().mapToDouble(Point::y).min().orElse(0);
        double max = points.stream().mapToDouble(Point::y).max().orElse(1);
        return min == max ? new double[] {min - 1, max + 1} : new double[] {min, max};
    }

    private static double scale(double v, double from, double to, double outFrom, double outTo) {
        return to == from ? (outFrom + outTo) / 2 : outFrom + (v - from) / (to - from) * (outTo - outFrom);
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String shorten(String label) {
        return label.length() > 12 ? label.substring(0, 11) + "…" : label;
    }

    @Nullable
    private static Double number(@Nullable String text) {
        try {
            double v = text == null ? Double.NaN : Double.parseDouble(text);
            return Double.isFinite(v) ? v : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    @Nullable
    static Double epochMillis(@Nullable String text) {
        if (text == null) {
            return null;
        }
        try {
            if (text.length() == 10) {
                return (double) LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            }
            if (text.length() > 19 && (text.lastIndexOf('+') > 18 || text.lastIndexOf('-') > 18)) {
                return (double) OffsetDateTime.parse(text, PG_TIMESTAMPTZ).toInstant().toEpochMilli();
            }
            return (double) LocalDateTime.parse(text, PG_TIMESTAMP).toInstant(ZoneOffset.UTC).toEpochMilli();
        } catch (RuntimeException e) {
            return null;
        }
    }
}
