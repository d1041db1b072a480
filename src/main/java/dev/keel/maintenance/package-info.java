/**
 * Upkeep of a database's contents as its owner asks for it through the Heroku CLI: reset
 * ({@code pg:reset}), ending sessions ({@code pg:killall}), repairing the default credential,
 * resetting statistics, and diagnosis ({@code pg:diagnose}) with its kept reports.
 */
package dev.keel.maintenance;
