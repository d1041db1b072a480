/** HTTP conventions every controller shares beyond errors: JSON request bodies, also as curl sends them. */
package dev.keel.http;
