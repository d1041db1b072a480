package dev.keel.auth;

import io.swagger.v3.oas.annotations.Hidden;

import java.util.UUID;

/**
 * Who is calling: the team whose resources the request may see, and the key it used. Controllers
 * take it as a parameter; a resource of another team is answered as not found.
 */
@Hidden
public record Caller(UUID teamId, UUID keyId, boolean admin) {
    static final String ATTRIBUTE = "keel.caller";
}
