package dev.keel.databases;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DatabaseNamesTest {
    @Test
    void generatedNamesAreHerokuStyle() {
        for (int i = 0; i < 200; i++) {
            assertThat(DatabaseNames.generate(name -> false)).matches("postgresql-[a-z]+-[1-9]\\d{4}");
        }
    }

    @Test
    void generationSkipsTakenNames() {
        Set<String> taken = new HashSet<>();
        String first = DatabaseNames.generate(taken::contains);
        taken.add(first);
        for (int i = 0; i < 50; i++) {
            assertThat(DatabaseNames.generate(taken::contains)).isNotEqualTo(first);
        }
    }

    @Test
    void validNamesPass() {
        assertThat(DatabaseNames.validate("orders-db")).isEqualTo("orders-db");
        assertThat(DatabaseNames.validate("abc")).isEqualTo("abc");
    }

    @Test
    void invalidNamesAreRejectedWithTheRule() {
        for (String bad : new String[] {"ab", "Orders", "1abc", "abc-", "a b c", "a--b", "x".repeat(64),
                "0f8fad5b-d9cb-469f-a165-70867728950e", "af8fad5b-d9cb-469f-a165-70867728950e"}) {
            assertThatThrownBy(() -> DatabaseNames.validate(bad))
                    .isInstanceOfSatisfying(KeelException.class, e -> assertThat(e.type()).isEqualTo(ProblemType.INVALID_NAME))
                    .hasMessageContaining("is not a valid database name");
        }
    }
}
