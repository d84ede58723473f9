package io.annals.capture.feed;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.feed.ChangeFeed;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * The feed example of docs/feeds.md: every change of {@code public.orders} copied, exactly once,
 * into a plain table {@code order_changes} of another database. Run as a child JVM by
 * {@link FeedKillDashNineTest}: {@code CopyOrderChanges <change log url> <output url>}.
 */
public final class CopyOrderChanges {

    private CopyOrderChanges() {
    }

    /** Writes one batch in the feed's transaction; the feed commits it with its checkpoint. */
    static void copy(List<ChangeRow> changes, Connection tx) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("INSERT INTO order_changes (position, operation, primary_key, after)"
                + " VALUES (?, ?, ?::jsonb, ?::jsonb)")) {
            for (ChangeRow c : changes) {
                ps.setString(1, c.position().toString());
                ps.setString(2, c.operation().name());
                ps.setString(3, c.primaryKey());
                ps.setString(4, c.after());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    public static void main(String[] args) throws Exception {
        PGSimpleDataSource output = new PGSimpleDataSource();
        output.setURL(args[1]);
        ChangeFeed feed = ChangeFeed.from(ChangeLog.at(args[0]))
                .named("order-copy")
                .tables("public.orders")
                .batchSize(50)
                .startTransactional(output, CopyOrderChanges::copy);
        Runtime.getRuntime().addShutdownHook(new Thread(feed::close));
        Thread.sleep(Long.MAX_VALUE); // until killed
    }
}
