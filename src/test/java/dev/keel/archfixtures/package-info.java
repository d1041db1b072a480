/**
 * A small imitation of Keel's package tree that breaks every rule of {@code ArchitectureTest} once, so that each rule is
 * shown to fail when violated; nothing here is loaded by Keel.
 */
package dev.keel.archfixtures;
