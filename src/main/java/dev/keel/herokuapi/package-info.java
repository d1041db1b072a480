/** The subset of Heroku's Platform and Data APIs that the Heroku CLI calls for add-ons, config vars and {@code pg:*}. */
package dev.keel.herokuapi;
