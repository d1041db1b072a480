/** Long work as operation records with progress, run in the background, and resumed or cleaned up after a crash. */
package dev.keel.operations;
