/**
 * The database record and its state machine, plans, lookups, the view a database is shown as ({@code DatabaseView}), and the
 * settings a database chose; assembling the view and applying the settings reach other capabilities, and are the lifecycle's.
 */
package dev.keel.databases;
