package dev.keel.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import io.micronaut.core.annotation.Order;
import io.micronaut.core.type.Argument;
import io.micronaut.core.type.Headers;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Consumes;
import io.micronaut.http.body.MessageBodyReader;
import io.micronaut.http.codec.CodecException;
import io.micronaut.json.JsonMapper;
import io.micronaut.json.body.JsonMessageHandler;
import io.micronaut.json.tree.JsonNode;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;

/**
 * Reads Keel's JSON request bodies as exactly one JSON value: Micronaut's reader stops after the
 * first value, so {@code {"name":"x"}garbage} or two objects in a row would be taken as the first.
 * Ahead of Micronaut's own JSON reader, for Keel's body types and a body read as a tree (Heroku's
 * settings); the value itself is read by the same mapper (with {@link StrictJson}'s types).
 */
@Singleton
@Order(JsonMessageHandler.ORDER - 1)
@Consumes({MediaType.APPLICATION_JSON, "application/vnd.heroku+json"})
final class JsonBodyReader<T> implements MessageBodyReader<T> {
    private static final JsonFactory SYNTAX = new JsonFactory();

    private final JsonMapper json;

    JsonBodyReader(JsonMapper json) {
        this.json = json;
    }

    @Override
    public boolean isReadable(Argument<T> type, MediaType mediaType) {
        return mediaType != null && mediaType.matchesAllOrWildcardOrExtension(MediaType.EXTENSION_JSON)
                && (type.getType().getName().startsWith("dev.keel.") || type.getType() == JsonNode.class);
    }

    @Override
    public T read(Argument<T> type, MediaType mediaType, Headers headers, InputStream body) throws CodecException {
        try {
            byte[] bytes = body.readAllBytes();
            try (JsonParser parser = SYNTAX.createParser(bytes)) {
                if (parser.nextToken() != null) {
                    parser.skipChildren();
                    if (parser.nextToken() != null) {
                        throw new JsonParseException(parser, "more than one JSON value");
                    }
                }
            }
            return json.readValue(bytes, type);
        } catch (IOException e) {
            throw new CodecException("could not read the request body as " + type.getName(), e);
        }
    }
}
