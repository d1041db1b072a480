package dev.keel.postgres;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * A range of ports Postgres servers may listen on ({@code KEEL_INSTANCES_PORTS}, "25000-25999").
 * Keep it below Linux's ephemeral range (32768-60999 by default): a port chosen there can be
 * taken by any outgoing connection between its reservation and the server's bind.
 */
public record PortRange(int first, int last) {
    public PortRange {
        if (first < 1 || last > 65535 || first > last) {
            throw new IllegalArgumentException("a port range is FIRST-LAST within 1-65535, not " + first + "-" + last);
        }
    }

    public static PortRange parse(String text) {
        String[] parts = text.strip().split("-");
        try {
            if (parts.length == 1) {
                int port = Integer.parseInt(parts[0].strip());
                return new PortRange(port, port);
            }
            if (parts.length == 2) {
                return new PortRange(Integer.parseInt(parts[0].strip()), Integer.parseInt(parts[1].strip()));
            }
        } catch (NumberFormatException e) {
            // falls through to the message below
        }
        throw new IllegalArgumentException("a port range is FIRST-LAST, such as 25000-25999, not '" + text + "'");
    }

    /** The lowest port in the range that no instance has reserved and that {@code bindable} accepts. */
    public OptionalInt firstFree(Set<Integer> reserved, IntPredicate bindable) {
        for (int port = first; port <= last; port++) {
            if (!reserved.contains(port) && bindable.test(port)) {
                return OptionalInt.of(port);
            }
        }
        return OptionalInt.empty();
    }

    public int size() {
        return last - first + 1;
    }

    /** Whether {@code port} lies in the range. */
    public boolean contains(int port) {
        return port >= first && port <= last;
    }

    /** Whether a listening socket can be bound to {@code host:port} now. */
    public static boolean bindable(String host, int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(host), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Whether {@code host:port} accepts a TCP connection within {@code timeout}: false when nothing answers in time, or it refuses. */
    public static boolean accepting(String host, int port, Duration timeout) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), Math.toIntExact(timeout.toMillis()));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return first + "-" + last;
    }
}
