/** The installation's certificate authority and the server certificates it signs for instances. */
package dev.keel.tls;
