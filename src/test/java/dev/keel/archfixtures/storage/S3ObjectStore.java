package dev.keel.archfixtures.storage;

import software.amazon.awssdk.services.s3.S3Client;

/** The one class allowed the AWS SDK, as in Keel: its use here is not a violation. */
public final class S3ObjectStore {
    S3Client client() {
        return S3Client.create();
    }
}
