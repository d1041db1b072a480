/** Instance lifecycle on a host: create, start, stop, destroy, reattach after a Keel restart, ports, health. */
package dev.keel.instances;
