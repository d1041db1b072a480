package dev.keel.dataclips;

import org.junit.jupiter.api.Test;

import java.sql.Types;

import static org.assertj.core.api.Assertions.assertThat;

/** pgjdbc's serial names become integer types only where they are pgjdbc's, not a type the owner named so. */
class ColumnTypeTest {
    /** An OID at or above FirstNormalObjectId: a type someone made. */
    private static final int OWNERS = 16500;

    @Test
    void aDescribedSerialNameIsItsIntegerTypeOnlyOnAColumnOfThatJdbcType() {
        assertThat(ColumnType.described(0, "serial", Types.INTEGER)).isEqualTo(new ColumnType(23, "int4"));
        assertThat(ColumnType.described(OWNERS, "bigserial", Types.BIGINT)).isEqualTo(new ColumnType(20, "int8"));
        assertThat(ColumnType.described(0, "smallserial", Types.SMALLINT)).isEqualTo(new ColumnType(21, "int2"));
        for (int jdbcType : new int[] {Types.VARCHAR, Types.STRUCT, Types.OTHER, Types.DISTINCT, Types.BIGINT}) {
            ColumnType owners = ColumnType.described(OWNERS, "serial", jdbcType);
            assertThat(owners).isEqualTo(new ColumnType(OWNERS, "serial"));
            assertThat(owners.jsonNumber()).isFalse();
            assertThat(owners.freeText()).isTrue();
        }
    }

    @Test
    void aStoredSerialNameIsItsIntegerTypeOnlyWhereTheNameFoundNoType() {
        assertThat(ColumnType.stored(0, "serial")).isEqualTo(new ColumnType(23, "int4"));
        assertThat(ColumnType.stored(0, "bigserial")).isEqualTo(new ColumnType(20, "int8"));
        assertThat(ColumnType.stored(OWNERS, "serial")).isEqualTo(new ColumnType(OWNERS, "serial"));
        assertThat(ColumnType.stored(23, "int4")).isEqualTo(new ColumnType(23, "int4"));
    }
}
