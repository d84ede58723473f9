package io.annals.testkit;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A TCP proxy in front of a test server that counts the round trips clients make: each time a
 * client sends a message after the server last spoke is one, since it sends again only once it
 * has read what it waited for. (Counting Sync and Query messages would not do: the driver sends
 * its {@code BEGIN} as a Query in the same flush as the statement that follows, without waiting.)
 *
 * <pre>{@code
 * try (RoundTrips trips = RoundTrips.in(url)) {
 *     int before = trips.count();  ... work through trips.url() ...  trips.count() - before
 * }
 * }</pre>
 */
public final class RoundTrips implements AutoCloseable {

    private static final int SSL_REQUEST = 80877103;
    private static final int GSS_REQUEST = 80877104;

    private final ServerSocket listener;
    private final String host;
    private final int port;
    private final String url;
    /** Round trips per connection, in the order the connections were accepted. */
    private final List<AtomicInteger> perConnection = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    private RoundTrips(String url) throws IOException {
        Matcher m = Pattern.compile("jdbc:postgresql://([^:/]+):(\\d+)/(.*)").matcher(url);
        if (!m.matches()) {
            throw new IllegalArgumentException("Expected jdbc:postgresql://host:port/..., got " + url);
        }
        host = m.group(1);
        port = Integer.parseInt(m.group(2));
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.url = "jdbc:postgresql://127.0.0.1:" + listener.getLocalPort() + "/" + m.group(3);
        Thread.ofPlatform().daemon().name("round-trips-accept").start(this::accept);
    }

    public static RoundTrips in(String url) throws IOException {
        return new RoundTrips(url);
    }

    /** The URL to connect through the proxy. */
    public String url() {
        return url;
    }

    /** Round trips made so far by every connection through the proxy. */
    public int count() {
        return perConnection.stream().mapToInt(AtomicInteger::get).sum();
    }

    /**
     * Round trips made so far by the {@code n}th connection through the proxy (from 0, in the order
     * they connected), to count one connection's while others work beside it.
     */
    public int count(int n) {
        return perConnection.get(n).get();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(host, port);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                AtomicBoolean serverSpoke = new AtomicBoolean();
                AtomicInteger mine = new AtomicInteger();
                perConnection.add(mine);
                Thread.ofPlatform().daemon().start(() -> frontend(client, server, serverSpoke, mine));
                Thread.ofPlatform().daemon().start(() -> backend(server, client, serverSpoke));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** Forwards what the client sends, message by message, counting the turns it takes. */
    private void frontend(Socket client, Socket server, AtomicBoolean serverSpoke, AtomicInteger mine) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(client.getInputStream()));
             OutputStream out = new BufferedOutputStream(server.getOutputStream())) {
            // Untyped packets first: SSL/GSS encryption requests, then the startup message.
            while (true) {
                int length = in.readInt();
                byte[] body = in.readNBytes(length - 4);
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length});
                out.write(body);
                out.flush();
                int code = ((body[0] & 0xff) << 24) | ((body[1] & 0xff) << 16) | ((body[2] & 0xff) << 8) | (body[3] & 0xff);
                if (code != SSL_REQUEST && code != GSS_REQUEST) {
                    break;
                }
            }
            while (true) {
                int type = in.read();
                if (type < 0) {
                    return;
                }
                int length = in.readInt();
                byte[] body = in.readNBytes(length - 4);
                if (serverSpoke.getAndSet(false)) {
                    // Counted before forwarding, so the count is up to date when the client sees the answer.
                    mine.incrementAndGet();
                }
                out.write(type);
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length});
                out.write(body);
                if (in.available() == 0) {
                    out.flush();
                }
            }
        } catch (EOFException e) {
            // The client hung up.
        } catch (IOException e) {
            // Closed.
        } finally {
            closeQuietly(server);
        }
    }

    /** Forwards what the server sends, noting that it spoke before the client can read it. */
    private static void backend(Socket from, Socket to, AtomicBoolean serverSpoke) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            byte[] buffer = new byte[16384];
            int n;
            while ((n = in.read(buffer)) > 0) {
                serverSpoke.set(true);
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            // Closed.
        } finally {
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Closing anyway.
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        sockets.forEach(RoundTrips::closeQuietly);
    }
}
