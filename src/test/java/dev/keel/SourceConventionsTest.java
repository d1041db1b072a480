package dev.keel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * CONVENTIONS.md's source habits that class files cannot show: "Imports at the top; no fully qualified names inside
 * method bodies" and "Every package has a one-sentence package-info.java". Both scan {@code src/main/java} (surefire
 * runs in the module's directory).
 */
class SourceConventionsTest {
    private static final Path MAIN = Path.of("src", "main", "java");
    private static final Pattern QUALIFIED = Pattern.compile("\\b(java|javax|jakarta|io|org|com|software|dev)\\.[a-z0-9_]+(\\.[a-z0-9_]+)*\\.[A-Z]\\w*");
    /**
     * Qualified names kept on purpose, as {@code "<path under src/main/java>: <name>"} to the reason, e.g. a second class of
     * the same simple name as an imported one. None today.
     */
    private static final Map<String, String> KEPT_QUALIFIED = Map.of();

    @Test
    void mainCodeNamesClassesThroughImports() throws IOException {
        List<String> found = new ArrayList<>();
        int files = 0;
        try (Stream<Path> sources = Files.walk(MAIN)) {
            for (Path file : sources.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                files++;
                String path = MAIN.relativize(file).toString();
                for (Finding finding : qualifiedNames(Files.readString(file))) {
                    if (!KEPT_QUALIFIED.containsKey(path + ": " + finding.name())) {
                        found.add(path + ":" + finding.line() + ": " + finding.name());
                    }
                }
            }
        }
        assertThat(files).as("Java files under %s", MAIN.toAbsolutePath()).isGreaterThan(100);
        assertThat(found).as("fully qualified names outside imports (import them, or add them to KEPT_QUALIFIED with a reason)").isEmpty();
    }

    @Test
    void theScanFindsQualifiedNamesInCodeButNotInImportsCommentsOrLiterals() {
        String source = String.join("\n",
                "package dev.keel.example;",
                "",
                "import java.util.List;",
                "",
                "/** Links {@link java.util.Map} in Javadoc. */",
                "final class Example {",
                "    private final java.util.Set<String> names = new java.util.concurrent.ConcurrentSkipListSet<>();",
                "    // a java.util.Optional in a comment",
                "    /* and java.util.Deque in a block comment */",
                "    String text = \"java.util.Queue in a string, with \\\" an escaped quote\";",
                "    char quote = '\"';",
                "    String block = \"\"\"",
                "            java.util.Stack in a text block, \\\"\"\" still in it",
                "            \"\"\";",
                "    @io.micronaut.core.annotation.Nullable Object value() { return dev.keel.Ids.parse(text); }",
                "}");

        assertThat(qualifiedNames(source)).containsExactly(
                new Finding(7, "java.util.Set"),
                new Finding(7, "java.util.concurrent.ConcurrentSkipListSet"),
                new Finding(15, "io.micronaut.core.annotation.Nullable"),
                new Finding(15, "dev.keel.Ids"));
    }

    @Test
    void everyPackageHasAPackageInfoWithASentence() throws IOException {
        List<String> checked = new ArrayList<>();
        assertThat(packagesWithoutInfo(MAIN, checked)).isEmpty();
        assertThat(checked).contains("dev.keel", "dev.keel.storage", "dev.keel.postgres").hasSizeGreaterThan(25);
    }

    @Test
    void aPackageWithoutPackageInfoOrWithAnEmptyOneIsReported(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("dev/keel/good"));
        Files.writeString(root.resolve("dev/keel/good/A.java"), "package dev.keel.good;\nclass A {}\n");
        Files.writeString(root.resolve("dev/keel/good/package-info.java"), "/** Good things. */\npackage dev.keel.good;\n");
        Files.createDirectories(root.resolve("dev/keel/missing"));
        Files.writeString(root.resolve("dev/keel/missing/B.java"), "package dev.keel.missing;\nclass B {}\n");
        Files.createDirectories(root.resolve("dev/keel/silent"));
        Files.writeString(root.resolve("dev/keel/silent/C.java"), "package dev.keel.silent;\nclass C {}\n");
        Files.writeString(root.resolve("dev/keel/silent/package-info.java"), "package dev.keel.silent;\n");

        List<String> checked = new ArrayList<>();
        assertThat(packagesWithoutInfo(root, checked)).containsExactly("dev.keel.missing", "dev.keel.silent");
        assertThat(checked).containsExactly("dev.keel.good", "dev.keel.missing", "dev.keel.silent");
    }

    record Finding(int line, String name) {
    }

    /** Qualified class names in code: not in import or package lines, comments, string, character or text-block literals. */
    static List<Finding> qualifiedNames(String source) {
        String[] lines = blankCommentsAndLiterals(source).split("\n", -1);
        List<Finding> found = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.startsWith("import ") || line.startsWith("package ")) {
                continue;
            }
            Matcher name = QUALIFIED.matcher(lines[i]);
            while (name.find()) {
                found.add(new Finding(i + 1, name.group()));
            }
        }
        return found;
    }

    /** The source with every comment and literal replaced by spaces, line breaks kept so that line numbers hold. */
    private static String blankCommentsAndLiterals(String source) {
        StringBuilder code = new StringBuilder(source.length());
        int i = 0;
        while (i < source.length()) {
            int end;
            if (source.startsWith("//", i)) {
                end = source.indexOf('\n', i);
                end = end < 0 ? source.length() : end;
            } else if (source.startsWith("/*", i)) {
                end = source.indexOf("*/", i + 2);
                end = end < 0 ? source.length() : end + 2;
            } else if (source.startsWith("\"\"\"", i)) {
                end = literalEnd(source, i + 3, "\"\"\"");
            } else if (source.charAt(i) == '"' || source.charAt(i) == '\'') {
                end = literalEnd(source, i + 1, String.valueOf(source.charAt(i)));
            } else {
                code.append(source.charAt(i++));
                continue;
            }
            for (; i < end; i++) {
                code.append(source.charAt(i) == '\n' ? '\n' : ' ');
            }
        }
        return code.toString();
    }

    private static int literalEnd(String source, int from, String close) {
        int j = from;
        while (j < source.length()) {
            if (source.charAt(j) == '\\') {
                j += 2;
            } else if (source.startsWith(close, j)) {
                return j + close.length();
            } else {
                j++;
            }
        }
        return source.length();
    }

    /** Packages (directories holding Java files) whose package-info.java is missing, or has no Javadoc sentence. */
    private static List<String> packagesWithoutInfo(Path sourceRoot, List<String> checked) throws IOException {
        List<String> missing = new ArrayList<>();
        try (Stream<Path> dirs = Files.walk(sourceRoot)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                boolean hasClasses;
                try (Stream<Path> files = Files.list(dir)) {
                    hasClasses = files.anyMatch(f -> f.toString().endsWith(".java") && !f.endsWith("package-info.java"));
                }
                if (!hasClasses) {
                    continue;
                }
                String name = sourceRoot.relativize(dir).toString().replace(dir.getFileSystem().getSeparator(), ".");
                checked.add(name);
                Path info = dir.resolve("package-info.java");
                String text = Files.isRegularFile(info) ? Files.readString(info) : "";
                if (!Pattern.compile("/\\*\\*\\s*\\S[\\s\\S]*\\*/\\s*(@[\\s\\S]*)?package " + Pattern.quote(name) + ";").matcher(text).find()) {
                    missing.add(name);
                }
            }
        }
        return missing;
    }
}
