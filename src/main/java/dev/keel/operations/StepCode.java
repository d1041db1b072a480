package dev.keel.operations;

import java.util.Arrays;
import java.util.Optional;

/**
 * A step of an operation kind, named by a stable code that is stored beside the step's sentence.
 * Handlers declare their steps as an enum implementing this, and resume on the code an
 * interrupted operation left, never on its sentence, which a newer version may reword.
 */
public interface StepCode {
    /** The code stored in the catalog: lower case words joined by hyphens, never changed once released. */
    String code();

    /** The step of {@code steps} whose code is {@code code}, if any. */
    static <S extends Enum<S> & StepCode> Optional<S> of(Class<S> steps, String code) {
        return Arrays.stream(steps.getEnumConstants()).filter(s -> s.code().equals(code)).findFirst();
    }
}
