package dev.keel.dataclips;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.util.Map;

/** Builds the API's representations of clips and results. */
@Singleton
final class DataclipViews {
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {
    };

    private final DatabaseLookup databases;

    DataclipViews(DatabaseLookup databases) {
        this.databases = databases;
    }

    DataclipView of(Dataclip clip, @Nullable ClipResult result) {
        String name = databases.find(clip.databaseId()).map(Database::name).orElse(null);
        return new DataclipView(clip.id(), clip.title(), new DataclipView.DatabaseRef(clip.databaseId(), name), clip.version().sql(),
                clip.version().number(), clip.parameters(), clip.timeoutSeconds(), clip.slug() != null, clip.createdAt(),
                clip.updatedAt(), result == null ? null : of(result));
    }

    DataclipView.ResultView of(ClipResult r) {
        DataclipView.RanOn ranOn = r.ranOn() == null ? null : new DataclipView.RanOn(r.ranOn(), r.ranOnDatabase(),
                databases.find(r.ranOnDatabase()).map(Database::name).orElse(null));
        DataclipView.Error error = r.errorMessage() == null ? null
                : new DataclipView.Error(r.errorMessage(), r.errorPosition(), r.errorSqlstate());
        return new DataclipView.ResultView(r.id(), r.state(), Json.read(r.parameters(), STRING_MAP), r.startedAt(), r.finishedAt(),
                r.durationMillis(), r.succeeded() ? r.rowCount() : null, r.truncated(), r.truncatedReason(), r.truncatedDetail(), ranOn, r.fields(),
                DataclipView.typeNames(r.types()), error);
    }
}
