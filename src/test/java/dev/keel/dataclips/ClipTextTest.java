package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How Keel reads a clip's SQL before sending it: one read-only statement, {{name}} parameters as binds, positions mapped back. */
class ClipTextTest {
    @Test
    void parametersBecomeBindsAndEachUseIsItsOwnPlaceholder() {
        ClipText.Prepared p = ClipText.prepare("select * from t where d >= {{start_date}} and d < {{ end_date }} or d = {{start_date}}");
        assertThat(p.jdbcSql()).isEqualTo("select * from t where d >= ? and d < ? or d = ?");
        assertThat(p.parameters()).containsExactly("start_date", "end_date", "start_date");
        assertThat(p.names()).containsExactly("start_date", "end_date");
    }

    @Test
    void parametersInsideLiteralsIdentifiersAndCommentsAreText() {
        String sql = "select '{{a}}', \"{{b}}\", $x${{c}}$x$, E'\\'{{d}}' -- {{e}}\n /* {{f}} /* nested */ */ from t";
        ClipText.Prepared p = ClipText.prepare(sql);
        assertThat(p.parameters()).isEmpty();
        assertThat(p.jdbcSql()).isEqualTo(sql);
    }

    @Test
    void aQuestionMarkOperatorIsEscapedForTheDriver() {
        assertThat(ClipText.prepare("select '{}'::jsonb ? 'a'").jdbcSql()).isEqualTo("select '{}'::jsonb ?? 'a'");
    }

    @Test
    void aTrailingSemicolonAndCommentsAreAllowedButASecondStatementIsNot() {
        assertThat(ClipText.prepare("select 1; -- done\n").jdbcSql()).isEqualTo("select 1");
        assertThat(ClipText.prepare("select ';' as semi").jdbcSql()).isEqualTo("select ';' as semi");
        assertThatThrownBy(() -> ClipText.prepare("select 1; delete from t"))
                .isInstanceOfSatisfying(KeelException.class, e -> {
                    assertThat(e.type()).isEqualTo(ProblemType.INVALID_SQL);
                    assertThat(e.getMessage()).isEqualTo("A dataclip is one statement: remove what follows the ';' at position 9.");
                });
    }

    @Test
    void onlyQueriesAreAccepted() {
        for (String ok : new String[] {"SELECT 1", "with x as (select 1) select * from x", "values (1)", "table t", "(select 1)",
                "-- a comment first\nselect 1"}) {
            assertThat(ClipText.prepare(ok).jdbcSql()).isNotBlank();
        }
        assertThatThrownBy(() -> ClipText.prepare("set transaction read write")).hasMessage(
                "A dataclip only reads: its SQL must be one query starting with SELECT, WITH, VALUES or TABLE, not SET.");
        assertThatThrownBy(() -> ClipText.prepare("   ")).hasMessageContaining("has no SQL");
        assertThatThrownBy(() -> ClipText.prepare("-- nothing")).hasMessageContaining("only comments");
        assertThatThrownBy(() -> ClipText.prepare("select 'open")).hasMessage("The string opened at position 8 is not closed.");
        assertThatThrownBy(() -> ClipText.prepare("select {{1x}}")).hasMessageContaining("a parameter is written {{name}}");
    }

    @Test
    void aServerPositionMapsBackToTheClipsText() {
        ClipText.Prepared p = ClipText.prepare("select {{long_parameter_name}}, nosuch");
        // The server sees "select $1, nosuch": nosuch is at 12 there, at 33 in the clip.
        assertThat(p.originalPosition(12)).isEqualTo(33);
        assertThat(p.originalPosition(1)).isEqualTo(1);
    }
}
