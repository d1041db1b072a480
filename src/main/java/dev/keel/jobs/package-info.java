/** Quartz wiring: a clustered JDBC job store on the catalog, jobs built by Micronaut; the jobs live in their capabilities. */
package dev.keel.jobs;
