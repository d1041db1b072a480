/** The object store archives and backups live in: the {@link dev.keel.storage.ObjectStore} boundary, S3, and the embedded S3Proxy. */
package dev.keel.storage;
