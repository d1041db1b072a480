package dev.keel.maintenance;

import io.micronaut.serde.annotation.Serdeable;

/**
 * One check of a {@code pg:diagnose} report as the Heroku CLI reads it: {@code status} is
 * {@code green}, {@code yellow}, {@code red} or {@code skipped}; {@code results} are the
 * offending rows (column to value), or one value under its name.
 */
@Serdeable
public record DiagnoseCheck(String name, String status, Object results) {
}
