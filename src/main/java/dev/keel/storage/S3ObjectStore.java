package dev.keel.storage;

import dev.keel.DaemonThreads;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.NoSuchUploadException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * {@link ObjectStore} on S3 through AWS SDK v2: the only class that imports the SDK. Configured
 * for what S3-compatible servers accept (path-style addressing; checksums only where the API
 * requires them, since several servers reject the SDK's default ones). Large objects go up in
 * parts, a few at a time, while the writer produces the next.
 */
public final class S3ObjectStore implements ObjectStore, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(S3ObjectStore.class);
    /** S3 allows 10,000 parts of at least 5 MiB: parts grow as an upload does, so any size fits. */
    private static final int FIRST_PART_BYTES = 8 * 1024 * 1024;
    private static final int PARTS_PER_SIZE_STEP = 1000;
    private static final int PARTS_IN_FLIGHT = 3;

    private final S3Settings settings;
    private final Consumer<String> onError;
    private final Consumer<String> durable;
    private final S3Client s3;
    private final ExecutorService partUploads;
    /** This process's unfinished multipart uploads by upload id: aborting one first lets its parts in flight land. */
    private final Map<String, PartUpload> unfinished = new ConcurrentHashMap<>();

    public S3ObjectStore(S3Settings settings) {
        this(settings, operation -> { }, key -> { });
    }

    /**
     * A store that tells {@code onError} the operation ({@code put}, {@code get}, ...) of every call
     * the store refused or failed, and hands {@code durable} the key of every object it stored before
     * the caller hears it is stored (the embedded store makes it survive a power cut there).
     */
    public S3ObjectStore(S3Settings settings, Consumer<String> onError, Consumer<String> durable) {
        this.onError = onError;
        this.durable = durable;
        this.settings = settings;
        var builder = S3Client.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(settings.accessKeyId(), settings.secretAccessKey())))
                .forcePathStyle(true)
                // Plain signed bodies: with aws-chunked uploads, some servers (S3Proxy) keep
                // "Content-Encoding: aws-chunked" on the object and hand it to every reader.
                .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(ApacheHttpClient.builder()
                        .maxConnections(32)
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(Duration.ofSeconds(20)))
                .overrideConfiguration(c -> c.apiCallAttemptTimeout(Duration.ofSeconds(30)).apiCallTimeout(Duration.ofSeconds(90)));
        if (!settings.endpoint().isBlank()) {
            builder.endpointOverride(URI.create(settings.endpoint()));
        }
        this.s3 = builder.build();
        this.partUploads = Executors.newCachedThreadPool(DaemonThreads.numbered("keel-s3-part"));
    }

    /** Creates the bucket when it does not exist yet. */
    public void ensureBucket() {
        call("check bucket " + settings.bucket(), () -> {
            try {
                s3.headBucket(b -> b.bucket(settings.bucket()));
            } catch (NoSuchBucketException e) {
                LOG.info("Creating bucket {} on {}", settings.bucket(), describe());
                s3.createBucket(b -> b.bucket(settings.bucket()));
            } catch (S3Exception e) {
                if (e.statusCode() != 404) {
                    throw e;
                }
                LOG.info("Creating bucket {} on {}", settings.bucket(), describe());
                s3.createBucket(b -> b.bucket(settings.bucket()));
            }
            return null;
        });
    }

    @Override
    public void put(String key, byte[] bytes, Map<String, String> metadata) {
        call("put " + key, () -> s3.putObject(r -> r.bucket(settings.bucket()).key(key).metadata(metadata), RequestBody.fromBytes(bytes)));
        durable.accept(key);
    }

    @Override
    public void settle(String key) {
        durable.accept(key);
    }

    @Override
    public ObjectUpload upload(String key, Map<String, String> metadata) {
        return new PartUpload(key, metadata);
    }

    @Override
    public InputStream get(String key) {
        return call("get " + key, () -> {
            try {
                ResponseInputStream<GetObjectResponse> in = s3.getObject(r -> r.bucket(settings.bucket()).key(key),
                        ResponseTransformer.toInputStream());
                return in;
            } catch (NoSuchKeyException e) {
                throw new StorageException.NotFound(key);
            }
        });
    }

    @Override
    public StoredObject read(String key) {
        return call("get " + key, () -> {
            try {
                ResponseBytes<GetObjectResponse> object = s3.getObjectAsBytes(r -> r.bucket(settings.bucket()).key(key));
                return new StoredObject(key, object.asByteArrayUnsafe(), object.response().metadata());
            } catch (NoSuchKeyException e) {
                throw new StorageException.NotFound(key);
            }
        });
    }

    @Override
    public Optional<ObjectInfo> head(String key) {
        return call("head " + key, () -> {
            try {
                HeadObjectResponse head = s3.headObject(r -> r.bucket(settings.bucket()).key(key));
                return Optional.of(new ObjectInfo(key, head.contentLength(), head.lastModified(), head.metadata()));
            } catch (NoSuchKeyException e) {
                return Optional.empty();
            } catch (S3Exception e) {
                if (e.statusCode() == 404) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    @Override
    public List<ObjectInfo> list(String prefix) {
        return call("list " + prefix, () -> {
            List<ObjectInfo> objects = new ArrayList<>();
            for (S3Object object : s3.listObjectsV2Paginator(r -> r.bucket(settings.bucket()).prefix(prefix)).contents()) {
                objects.add(new ObjectInfo(object.key(), object.size(), object.lastModified(), Map.of()));
            }
            objects.sort(Comparator.comparing(ObjectInfo::key));
            return objects;
        });
    }

    @Override
    public void delete(List<String> keys) {
        // One request per key: batch deletes need a checksum header that several S3-compatible servers refuse.
        for (String key : keys) {
            call("delete " + key, () -> s3.deleteObject(r -> r.bucket(settings.bucket()).key(key)));
        }
    }

    @Override
    public int abortIncompleteUploads(String prefix) {
        return call("abort uploads under " + prefix, () -> {
            // Some servers list an upload more than once (S3Proxy's nio2 back end, per part): abort each once,
            // and take an upload that is gone by the time it is aborted as aborted.
            Set<String> seen = new HashSet<>();
            for (MultipartUpload upload : s3.listMultipartUploadsPaginator(r -> r.bucket(settings.bucket()).prefix(prefix)).uploads()) {
                if (seen.add(upload.key() + "\n" + upload.uploadId())) {
                    PartUpload writer = unfinished.get(upload.uploadId());
                    if (writer != null) {
                        // Ours, its writer gone quiet: a part still in flight would land after the abort and
                        // leave the server listing an upload it cannot abort. Let it land first.
                        writer.stop();
                    }
                    try {
                        s3.abortMultipartUpload(r -> r.bucket(settings.bucket()).key(upload.key()).uploadId(upload.uploadId()));
                    } catch (NoSuchUploadException e) {
                        // gone already
                    }
                }
            }
            return seen.size();
        });
    }

    @Override
    public String describe() {
        return settings.toString();
    }

    @Override
    public void close() {
        partUploads.shutdownNow();
        s3.close();
    }

    private <T> T call(String what, Supplier<T> action) {
        try {
            return action.get();
        } catch (AbortedException e) {
            Thread.currentThread().interrupt(); // the SDK cleared the flag it found
            throw new StorageException.Interrupted("could not " + what + " on " + describe() + ": " + e.getMessage(), e);
        } catch (SdkException e) {
            onError.accept(what.substring(0, what.indexOf(' ')));
            throw new StorageException("could not " + what + " on " + describe() + ": " + e.getMessage(), e);
        }
    }

    private static int partSize(int partNumber) {
        return FIRST_PART_BYTES << Math.min((partNumber - 1) / PARTS_PER_SIZE_STEP, 6);
    }

    /**
     * Buffers one part at a time and uploads full parts in the background (at most a few at
     * once). An object that fits in one part is stored with a single PUT on completion.
     */
    private final class PartUpload implements ObjectUpload {
        private final String key;
        private final Map<String, String> metadata;
        private final List<Future<CompletedPart>> parts = new ArrayList<>();
        private final Semaphore inFlight = new Semaphore(PARTS_IN_FLIGHT);
        private String uploadId;
        private byte[] buffer = new byte[partSize(1)];
        private int filled;
        private long total;
        private boolean finished;

        PartUpload(String key, Map<String, String> metadata) {
            this.key = key;
            this.metadata = metadata;
        }

        /** Writers wrap this in compressors and archivers, which close it when done: closing must not abort. */
        private final OutputStream stream = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                append(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                append(bytes, offset, length);
            }
        };

        @Override
        public OutputStream stream() {
            return stream;
        }

        private synchronized void append(byte[] bytes, int offset, int length) throws IOException {
            if (finished) {
                throw new IOException("the upload of " + key + " is finished");
            }
            while (length > 0) {
                int n = Math.min(length, buffer.length - filled);
                System.arraycopy(bytes, offset, buffer, filled, n);
                filled += n;
                offset += n;
                length -= n;
                if (filled == buffer.length) {
                    sendPart();
                }
            }
        }

        @Override
        public synchronized void close() {
            if (!finished) {
                stop();
                if (uploadId != null) {
                    try {
                        s3.abortMultipartUpload(r -> r.bucket(settings.bucket()).key(key).uploadId(uploadId));
                    } catch (SdkException e) {
                        LOG.warn("Could not abort the upload of {}; abortIncompleteUploads removes it later", key, e);
                    }
                }
            }
        }

        /**
         * Takes no more writes and waits until no part of it is in flight, so that an abort is the
         * last the server hears of it. A part request cancelled on this side may still be carried
         * out by the server, so parts are waited for (each ends within the call timeout), not cancelled.
         */
        synchronized void stop() {
            finished = true;
            if (uploadId != null) {
                unfinished.remove(uploadId);
            }
            for (Future<CompletedPart> part : parts) {
                try {
                    part.get();
                } catch (ExecutionException e) {
                    // failed: nothing of it lands any more
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }

        private void sendPart() throws IOException {
            if (uploadId == null) {
                uploadId = call("start upload " + key,
                        () -> s3.createMultipartUpload(r -> r.bucket(settings.bucket()).key(key).metadata(metadata)).uploadId());
                unfinished.put(uploadId, this);
            }
            int number = parts.size() + 1;
            byte[] bytes = filled == buffer.length ? buffer : Arrays.copyOf(buffer, filled);
            total += filled;
            try {
                inFlight.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted uploading " + key, e);
            }
            String id = uploadId;
            parts.add(partUploads.submit(() -> {
                try {
                    String etag = call("upload part " + number + " of " + key, () -> s3.uploadPart(
                            r -> r.bucket(settings.bucket()).key(key).uploadId(id).partNumber(number),
                            RequestBody.fromBytes(bytes)).eTag());
                    return CompletedPart.builder().partNumber(number).eTag(etag).build();
                } finally {
                    inFlight.release();
                }
            }));
            buffer = new byte[partSize(number + 1)];
            filled = 0;
            for (Future<CompletedPart> part : parts) {
                if (part.isDone()) {
                    awaitPart(part);
                }
            }
        }

        private CompletedPart awaitPart(Future<CompletedPart> part) throws IOException {
            try {
                return part.get();
            } catch (ExecutionException e) {
                throw new IOException("uploading " + key + " failed: " + e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted uploading " + key, e);
            }
        }

        @Override
        public synchronized long complete() {
            if (finished) {
                throw new IllegalStateException("the upload of " + key + " is already finished");
            }
            try {
                if (uploadId == null) {
                    byte[] bytes = Arrays.copyOf(buffer, filled);
                    S3ObjectStore.this.put(key, bytes, metadata);
                    finished = true;
                    return filled;
                }
                if (filled > 0) {
                    sendPart();
                }
                List<CompletedPart> completed = new ArrayList<>();
                for (Future<CompletedPart> part : parts) {
                    completed.add(awaitPart(part));
                }
                call("complete upload of " + key, () -> s3.completeMultipartUpload(r -> r.bucket(settings.bucket()).key(key)
                        .uploadId(uploadId).multipartUpload(CompletedMultipartUpload.builder().parts(completed).build())));
                durable.accept(key);
                finished = true;
                unfinished.remove(uploadId);
                return total;
            } catch (IOException e) {
                close();
                throw new StorageException("could not upload " + key + " to " + describe() + ": " + e.getMessage(), e);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }
    }
}
