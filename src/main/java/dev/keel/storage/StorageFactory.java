package dev.keel.storage;

import dev.keel.StartupException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.BeanProvider;
import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.util.function.Consumer;

/**
 * The object store: the one given by {@code KEEL_S3_*}, or, when none is, the embedded S3Proxy.
 * Either way the bucket is created when missing, and the rest of Keel sees only {@link ObjectStore}.
 */
@Factory
final class StorageFactory {
    @Singleton
    S3Settings s3Settings(@Value("${keel.s3.endpoint}") String endpoint, @Value("${keel.s3.region}") String region,
                          @Value("${keel.s3.bucket}") String bucket, @Value("${keel.s3.access-key-id}") String accessKeyId,
                          @Value("${keel.s3.secret-access-key}") String secretAccessKey, BeanProvider<EmbeddedS3> embedded) {
        if (endpoint.isBlank() && bucket.isBlank()) {
            return embedded.get().start();
        }
        if (bucket.isBlank()) {
            throw new StartupException("KEEL_S3_ENDPOINT is set but KEEL_S3_BUCKET is not; say which bucket to keep archives in");
        }
        return new S3Settings(endpoint, region, bucket, accessKeyId, secretAccessKey);
    }

    @Singleton
    @Bean(preDestroy = "close")
    S3ObjectStore objectStore(S3Settings settings, MeterRegistry meters, BeanProvider<EmbeddedS3> embedded) {
        // An external store's guarantee is its own; the embedded one's files are fsynced by Keel.
        EmbeddedS3 local = embedded.get();
        Consumer<String> durable = local.started() ? key -> local.sync(settings.bucket(), key) : key -> { };
        S3ObjectStore store = new S3ObjectStore(settings, operation -> Counter.builder("keel.object.store.errors")
                .description("Object store calls that failed, by operation").tag("operation", operation).register(meters).increment(),
                durable);
        store.ensureBucket();
        return store;
    }
}
