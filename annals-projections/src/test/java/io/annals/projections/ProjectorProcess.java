package io.annals.projections;

import io.annals.changelog.ChangeLog;
import org.postgresql.ds.PGSimpleDataSource;

import java.time.Duration;
import java.util.List;

/**
 * A projector in a JVM of its own, for {@link ProjectionKillDashNineTest} to SIGKILL: it keeps
 * {@code order_view} (in the output database) true to {@code orders}, each read row naming the
 * change it came from.
 *
 * <pre>{@code
 * java -cp ... io.annals.projections.ProjectorProcess <change-log-url> <source-url> <output-url>
 * }</pre>
 */
public final class ProjectorProcess {

    private ProjectorProcess() {
    }

    static Projection orderView() {
        return Projection.named("order_view").into("public.order_view")
                .from("public.orders", c -> List.of(Wave.row("status", c.after("status"), "amount", c.after("amount"),
                        "source_position", c.position() == null ? null : c.position().toString())))
                .build();
    }

    public static void main(String[] args) throws Exception {
        Projections projections = Projections.over(ChangeLog.at(ds(args[0]))).source(ds(args[1])).output(ds(args[2]))
                .batchSize(50).pollInterval(Duration.ofMillis(100)).build();
        RunningProjection running = projections.start(orderView());
        Runtime.getRuntime().addShutdownHook(new Thread(running::close));
        Thread.sleep(Long.MAX_VALUE); // until SIGKILLed, which runs no hook: that is the point
    }

    private static PGSimpleDataSource ds(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        return ds;
    }
}
