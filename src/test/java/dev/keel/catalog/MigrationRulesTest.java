package dev.keel.catalog;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rolling upgrades need migrations that an older node survives: from V71 on, a migration only adds
 * (tables, indexes, nullable or defaulted columns, rows). New values in an existing column (an
 * operation kind an older node cannot parse) are a break too, which no pattern here can see. One that must drop, rename, retype or
 * tighten raises {@code catalog_compatibility.oldest_compatible} to its own version, so that older
 * nodes stop instead of meeting a schema they do not know ({@link CatalogSchema}).
 */
class MigrationRulesTest {
    private static final int FIRST_ROLLING = 71;
    private static final Pattern VERSION = Pattern.compile("V(\\d+)__.*\\.sql");
    private static final List<Pattern> BREAKING = List.of(
            Pattern.compile("\\bdrop\\s+(table|column|view|type|schema|constraint|function)\\b"),
            Pattern.compile("\\brename\\b"),
            Pattern.compile("\\balter\\s+column\\s+\\w+\\s+(set\\s+data\\s+)?type\\b"),
            Pattern.compile("\\balter\\s+column\\s+\\w+\\s+set\\s+not\\s+null\\b"),
            Pattern.compile("\\badd\\s+(column\\s+)?(?!constraint\\b)\\w+\\s+(?:(?!\\bdefault\\b)[^,;])*\\bnot\\s+null\\b(?:(?!\\bdefault\\b)[^,;])*[,;]"),
            Pattern.compile("\\bdrop\\s+(default|index|trigger|not\\s+null)\\b"),
            Pattern.compile("\\badd\\s+constraint\\b"),
            Pattern.compile("\\bcreate\\s+unique\\s+index\\b"),
            Pattern.compile("\\bupdate\\s+(?!catalog_compatibility\\b)\\w+\\s+set\\b"),
            Pattern.compile("\\bdelete\\s+from\\b"),
            Pattern.compile("\\btruncate\\b"));

    @Test
    void migrationsFromTheFirstRollingOneOnOnlyAddOrDeclareOlderNodesIncompatible() throws IOException {
        List<String> broken = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of("migrations"))) {
            for (Path file : files.sorted().toList()) {
                Matcher name = VERSION.matcher(file.getFileName().toString());
                assertThat(name.matches()).as("%s is named V<n>__<what>.sql", file).isTrue();
                int version = Integer.parseInt(name.group(1));
                if (version < FIRST_ROLLING) {
                    continue;
                }
                String sql = withoutComments(Files.readString(file)).toLowerCase(Locale.ROOT);
                boolean declares = sql.matches("(?s).*update\\s+catalog_compatibility\\s+set\\s+oldest_compatible\\s*=\\s*" + version + "\\b.*");
                for (Pattern breaking : BREAKING) {
                    Matcher found = breaking.matcher(sql);
                    if (found.find() && !declares) {
                        broken.add(file.getFileName() + ": '" + found.group() + "'");
                    }
                }
            }
        }
        assertThat(broken).as("migrations an older node would not survive, without raising oldest_compatible to their version").isEmpty();
    }

    @Test
    void theRulesCatchWhatTheyAreFor() {
        assertThat(breaks("alter table t add column c int not null;")).isTrue();
        assertThat(breaks("alter table t add column c int not null default 0;")).isFalse();
        assertThat(breaks("alter table t add column c int;")).isFalse();
        assertThat(breaks("alter table t alter column c type bigint;")).isTrue();
        assertThat(breaks("alter table t alter column c set not null;")).isTrue();
        assertThat(breaks("alter table t drop column c;")).isTrue();
        assertThat(breaks("alter table t rename column c to d;")).isTrue();
        assertThat(breaks("create table t (id uuid primary key, n int not null);")).isFalse();
        assertThat(breaks("-- drop table t\ncreate index i on t (n);")).isFalse();
        assertThat(breaks("alter table t add c int not null;")).isTrue();
        assertThat(breaks("alter table t alter column c drop default;")).isTrue();
        assertThat(breaks("alter table t add constraint c check (n > 0);")).isTrue();
        assertThat(breaks("create unique index i on t (n);")).isTrue();
        assertThat(breaks("drop index i;")).isTrue();
        assertThat(breaks("update t set n = 0;")).isTrue();
    }

    private static boolean breaks(String sql) {
        String text = withoutComments(sql).toLowerCase(Locale.ROOT);
        return BREAKING.stream().anyMatch(p -> p.matcher(text).find());
    }

    private static String withoutComments(String sql) {
        return sql.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("--[^\\n]*", " ");
    }
}
