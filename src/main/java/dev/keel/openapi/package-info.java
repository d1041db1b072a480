/** The OpenAPI document generated from the controllers at build time, served at /openapi with Swagger UI at /openapi/ui. */
package dev.keel.openapi;
