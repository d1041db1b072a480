package dev.keel.archfixtures.herokuapi;

/** An edge (the Heroku API) that nothing below may call. */
public final class Edge {
    public void serve() {
    }
}
