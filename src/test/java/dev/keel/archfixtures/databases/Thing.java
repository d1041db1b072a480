package dev.keel.archfixtures.databases;

/** A capability class that foundations must not know about. */
public final class Thing {
}
