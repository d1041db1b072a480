package dev.keel.databases;

import dev.keel.Ids;
import dev.keel.RandomStrings;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** Heroku-style database names ({@code postgresql-amorphous-12345}) and the rule for names users choose. */
public final class DatabaseNames {
    private static final Pattern VALID = Pattern.compile("[a-z][a-z0-9-]{1,61}[a-z0-9]");
    private static final List<String> ADJECTIVES = List.of(
            "acute", "adjacent", "agile", "amorphous", "angular", "animate", "aqueous", "asymmetrical", "backlit", "brave",
            "clean", "closed", "colorful", "concave", "contoured", "convex", "crystalline", "cubic", "curly", "curved",
            "deep", "defined", "dimensional", "elliptical", "encircled", "fitted", "flat", "fluffy", "fluid", "formal",
            "fractured", "framed", "globular", "graceful", "horizontal", "infinite", "lively", "metallic", "narrow", "opaque",
            "parallel", "perpendicular", "polished", "pointy", "rectangular", "reticulated", "rigid", "round", "rugged",
            "shallow", "sinuous", "slippery", "solid", "spherical", "square", "symmetrical", "tapered", "tetrahedral",
            "transparent", "triangular", "vertical", "silhouetted", "clear");

    private DatabaseNames() {
    }

    /** A name no database has yet. */
    public static String generate(Predicate<String> taken) {
        for (int attempt = 0; attempt < 100; attempt++) {
            String name = "postgresql-" + ADJECTIVES.get(RandomStrings.number(ADJECTIVES.size())) + "-"
                    + (10000 + RandomStrings.number(90000));
            if (!taken.test(name)) {
                return name;
            }
        }
        throw new IllegalStateException("no free generated database name after 100 attempts");
    }

    /** Checks a name a user chose; a 422 with the rule otherwise. */
    public static String validate(String name) {
        if (!VALID.matcher(name).matches() || name.contains("--") || Ids.parse(name).isPresent()) {
            throw new KeelException(ProblemType.INVALID_NAME, "'" + name + "' is not a valid database name: use 3 to 63 lowercase"
                    + " letters, digits and single dashes, starting with a letter and not ending with a dash.");
        }
        return name;
    }
}
