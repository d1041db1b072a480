package dev.keel.storage;

/**
 * How to reach an S3-compatible store. {@code endpoint} empty means AWS itself. The secret is
 * kept out of {@link #toString}.
 */
public record S3Settings(String endpoint, String region, String bucket, String accessKeyId, String secretAccessKey) {
    @Override
    public String toString() {
        return (endpoint.isBlank() ? "AWS S3 (" + region + ")" : endpoint) + ", bucket " + bucket;
    }
}
