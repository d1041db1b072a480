package dev.keel.archfixtures.catalog;

import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.Result;
import org.jooq.impl.DSL;

/** Reads a table as {@code nodes.*} beside a field of its own, by position. */
public final class ReadsByPosition {
    Result<Record> all(DSLContext sql) {
        return sql.select(DSL.table("nodes").asterisk(), DSL.currentOffsetDateTime().as("now")).from(DSL.table("nodes")).fetch();
    }
}
