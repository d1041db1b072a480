package dev.keel.apps;

import dev.keel.RandomStrings;

import java.util.List;
import java.util.function.Predicate;

/** Heroku-style app names ({@code floating-harbor-48213}) for apps created without one. */
final class AppNames {
    private static final List<String> ADJECTIVES = List.of(
            "afternoon", "ancient", "autumn", "billowing", "bitter", "blooming", "calm", "cold", "crisp", "damp", "dawn",
            "delicate", "dry", "dusky", "evening", "falling", "floating", "fragrant", "frosty", "gentle", "hidden", "icy",
            "late", "little", "lively", "misty", "morning", "polished", "proud", "quiet", "rough", "shy", "silent",
            "snowy", "sparkling", "spring", "still", "summer", "twilight", "wandering", "weathered", "wild", "winter");
    private static final List<String> NOUNS = List.of(
            "bastion", "beach", "brook", "butte", "cliffs", "cove", "dawn", "depths", "dusk", "falls", "fjord", "forest",
            "garden", "glacier", "harbor", "headland", "hollows", "island", "lake", "lowlands", "meadow", "mesa", "mountain",
            "ocean", "peak", "plains", "reaches", "reef", "ridge", "river", "savannah", "sea", "shelf", "shore", "sierra",
            "springs", "stream", "taiga", "thicket", "tundra", "valley", "waters", "woodland");

    private AppNames() {
    }

    /** A name no app of the team has yet. */
    static String generate(Predicate<String> taken) {
        for (int attempt = 0; attempt < 100; attempt++) {
            String name = ADJECTIVES.get(RandomStrings.number(ADJECTIVES.size())) + "-" + NOUNS.get(RandomStrings.number(NOUNS.size()))
                    + "-" + (10000 + RandomStrings.number(90000));
            if (!taken.test(name)) {
                return name;
            }
        }
        throw new IllegalStateException("no free generated app name after 100 attempts");
    }
}
