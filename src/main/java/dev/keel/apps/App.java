package dev.keel.apps;

import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.util.UUID;

/** A named consumer of databases, in a team; its attachments give it config vars. */
@Serdeable
public record App(UUID id, UUID teamId, String name, OffsetDateTime createdAt) {
}
