package dev.keel.openapi;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The document micronaut-openapi generated from the controllers at build time
 * ({@code META-INF/swagger/keel.yml}), completed once when first asked for: every operation
 * gets a {@code default} response of {@code application/problem+json}, the problem types are
 * listed ({@code x-problem-types}, from {@link ProblemType}, their one registry), and the
 * {@code caller} the API key filter binds is taken out, since no client sends it.
 */
@Singleton
final class OpenApiDocument {
    private static final String GENERATED = "META-INF/swagger/keel.yml";
    private static final String CALLER = "#/components/schemas/Caller";

    private volatile Map<String, Object> document;

    String yaml() {
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        // From a copy made through JSON: the document shares some nodes, which YAML would write as aliases.
        try {
            return new Yaml(options).dump(new ObjectMapper().readValue(json(), Map.class));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    String json() {
        try {
            return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(document());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private Map<String, Object> document() {
        if (document == null) {
            try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(GENERATED)) {
                if (in == null) {
                    throw new IllegalStateException(GENERATED + " is missing: the build generates it from the controllers");
                }
                Map<String, Object> loaded = new Yaml().load(in);
                complete(loaded);
                document = loaded;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return document;
    }

    @SuppressWarnings("unchecked")
    private static void complete(Map<String, Object> doc) {
        Map<String, Object> components = (Map<String, Object>) doc.computeIfAbsent("components", k -> new LinkedHashMap<>());
        Map<String, Object> schemas = (Map<String, Object>) components.computeIfAbsent("schemas", k -> new LinkedHashMap<>());
        schemas.remove("Caller");
        schemas.put("Problem", problemSchema());
        List<Map<String, Object>> types = new ArrayList<>();
        for (ProblemType type : ProblemType.values()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("type", type.uri());
            entry.put("status", type.status());
            entry.put("title", type.title());
            entry.put("retryable", type.retryable());
            types.add(entry);
        }
        doc.put("x-problem-types", types);
        schemas.values().forEach(schema -> allowNullReferences(schema, schemas));
        Map<String, Object> paths = (Map<String, Object>) doc.get("paths");
        for (Object pathItem : paths.values()) {
            for (Object op : ((Map<String, Object>) pathItem).values()) {
                if (!(op instanceof Map<?, ?>)) {
                    continue;
                }
                Map<String, Object> operation = (Map<String, Object>) op;
                List<Object> parameters = (List<Object>) operation.get("parameters");
                if (parameters != null) {
                    parameters.removeIf(p -> p.toString().contains(CALLER));
                    if (parameters.isEmpty()) {
                        operation.remove("parameters");
                    }
                }
                stripCaller(operation.get("requestBody"));
                Map<String, Object> responses = (Map<String, Object>) operation.computeIfAbsent("responses", k -> new LinkedHashMap<>());
                // An operation that answers 201 Created or 202 Accepted returns the body the generator saw as its 200.
                if (responses.containsKey("200") && responses.keySet().stream().noneMatch(code -> code.matches("20[1-9]"))) {
                    responses.putIfAbsent("2XX", responses.get("200"));
                }
                responses.putIfAbsent("default", Map.of("description", "a problem: what went wrong and what to do",
                        "content", Map.of("application/problem+json", Map.of("schema", Map.of("$ref", "#/components/schemas/Problem")))));
            }
        }
    }

    /**
     * {@code nullable} beside {@code allOf: [$ref]} (how the generator writes a nullable record
     * member) does not let null through a validator, since the referenced object schema refuses
     * it: such a member becomes a copy of the referenced schema that is itself nullable.
     */
    @SuppressWarnings("unchecked")
    private static void allowNullReferences(Object schema, Map<String, Object> schemas) {
        if (!(schema instanceof Map<?, ?> map) || !(map.get("properties") instanceof Map<?, ?> properties)) {
            return;
        }
        for (Map.Entry<String, Object> property : ((Map<String, Object>) properties).entrySet()) {
            if (property.getValue() instanceof Map<?, ?> member && Boolean.TRUE.equals(member.get("nullable"))
                    && member.get("allOf") instanceof List<?> allOf && allOf.size() == 1
                    && allOf.get(0) instanceof Map<?, ?> ref && ref.get("$ref") instanceof String target
                    && schemas.get(target.substring(target.lastIndexOf('/') + 1)) instanceof Map<?, ?> referenced) {
                Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) referenced);
                copy.put("nullable", true);
                property.setValue(copy);
            }
        }
    }

    /** Removes the {@code caller} property micronaut-openapi adds to a body it cannot see whole. */
    @SuppressWarnings("unchecked")
    private static void stripCaller(Object node) {
        if (node instanceof Map<?, ?> map) {
            Map<String, Object> m = (Map<String, Object>) map;
            if (m.get("properties") instanceof Map<?, ?> properties) {
                properties.remove("caller");
            }
            if (m.get("allOf") instanceof List<?> allOf) {
                ((List<Object>) allOf).removeIf(part -> part instanceof Map<?, ?> p && p.get("properties") instanceof Map<?, ?> props
                        && props.isEmpty());
            }
            m.values().forEach(OpenApiDocument::stripCaller);
        } else if (node instanceof List<?> list) {
            list.forEach(OpenApiDocument::stripCaller);
        }
    }

    private static Map<String, Object> problemSchema() {
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("type", Map.of("type", "string", "enum", Arrays.stream(ProblemType.values()).map(ProblemType::uri).toList()));
        properties.put("title", Map.of("type", "string"));
        properties.put("status", Map.of("type", "integer"));
        properties.put("detail", Map.of("type", "string"));
        properties.put("instance", Map.of("type", "string"));
        Map<String, Object> schema = new LinkedHashMap<>();
        schema.put("type", "object");
        schema.put("description", "RFC 9457; members such as valid_values, followers or reference may follow");
        schema.put("required", List.of("type", "title", "status"));
        schema.put("properties", properties);
        schema.put("additionalProperties", true);
        return schema;
    }
}
