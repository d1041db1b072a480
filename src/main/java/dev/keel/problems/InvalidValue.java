package dev.keel.problems;

import io.micronaut.serde.exceptions.SerdeException;

/**
 * A request body's value that is of another type than its field's, or text Keel cannot keep.
 * Thrown while the body is read; the 400 names the field and says {@code getMessage()}, which
 * is written for the caller ("must be a JSON string").
 */
public final class InvalidValue extends SerdeException {
    public InvalidValue(String message) {
        super(message);
    }
}
