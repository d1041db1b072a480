package dev.keel.http;

import dev.keel.problems.InvalidValue;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Primary;
import io.micronaut.core.type.Argument;
import io.micronaut.serde.Decoder;
import io.micronaut.serde.Deserializer;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * How request bodies read text, whole numbers and booleans: only as what the JSON says they are.
 * Jackson would take {@code 123} or {@code ["x"]} for a string, {@code "5"} or {@code 1.9} for a
 * number and {@code "maybe"} for false; a body saying so is refused instead, naming the field.
 * Text is valid Unicode without NUL: Postgres cannot store U+0000, and an unpaired surrogate
 * would be stored as {@code ?}.
 */
public final class StrictJson {
    private StrictJson() {
    }

    /** {@code text}, when it holds neither NUL nor an unpaired surrogate. */
    public static String checkedText(String text) throws InvalidValue {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0) {
                throw new InvalidValue("holds a NUL character (\\u0000), which Keel cannot keep; remove it");
            }
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new InvalidValue("holds an unpaired UTF-16 surrogate (such as \\ud800), which is not Unicode text; send valid UTF-8");
            }
        }
        return text;
    }

    /** {@code value} of a field read from a free-form object (Heroku's add-on config), checked as a body's text is. */
    public static String text(String field, String value) {
        try {
            return checkedText(value);
        } catch (InvalidValue e) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"" + field + "\" " + e.getMessage() + ".");
        }
    }

    /** Reads a JSON value as a whole and takes it only as what it is; null stays null. */
    abstract static class Typed<T> implements Deserializer<T> {
        /** {@code value} (a String, Boolean, number, List or Map as the JSON held it) as a T, or refused. */
        abstract T of(Object value) throws InvalidValue;

        @Override
        public T deserialize(Decoder decoder, DecoderContext context, Argument<? super T> type) throws IOException {
            return of(decoder.decodeArbitrary());
        }

        @Override
        public T deserializeNullable(Decoder decoder, DecoderContext context, Argument<? super T> type) throws IOException {
            return decoder.decodeNull() ? null : deserialize(decoder, context, type);
        }
    }

    @Singleton
    @Primary
    static final class Text extends Typed<String> {
        @Override
        String of(Object value) throws InvalidValue {
            if (value instanceof String text) {
                return checkedText(text);
            }
            throw new InvalidValue("must be a JSON string");
        }
    }

    /**
     * A list of text, such as extension names: Micronaut's own reader of {@code List<String>} would
     * take {@code [true]} as {@code ["true"]} and {@code [["x"]]} as text, and let NUL through.
     */
    @Singleton
    @Primary
    static final class TextList extends Typed<List<String>> {
        @Override
        List<String> of(Object value) throws InvalidValue {
            if (!(value instanceof List<?> items)) {
                throw new InvalidValue("must be a JSON array of strings");
            }
            List<String> texts = new ArrayList<>();
            for (Object item : items) {
                if (!(item instanceof String text)) {
                    throw new InvalidValue("must be a JSON array of strings, without null");
                }
                texts.add(checkedText(text));
            }
            return texts;
        }
    }

    @Singleton
    @Primary
    static final class WholeNumber extends Typed<Integer> {
        @Override
        Integer of(Object value) throws InvalidValue {
            if (value instanceof Integer || value instanceof Long || value instanceof BigInteger) {
                BigInteger number = new BigInteger(value.toString());
                if (number.bitLength() < Integer.SIZE) {
                    return number.intValue();
                }
            }
            throw new InvalidValue("must be a whole number from " + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE + ", written without quotes");
        }
    }

    @Singleton
    @Primary
    static final class Flag extends Typed<Boolean> {
        @Override
        Boolean of(Object value) throws InvalidValue {
            if (value instanceof Boolean flag) {
                return flag;
            }
            throw new InvalidValue("must be true or false, written without quotes");
        }
    }
}
