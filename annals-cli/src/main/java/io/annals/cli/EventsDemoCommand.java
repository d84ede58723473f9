package io.annals.cli;

import io.annals.context.AnnalsContext;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.events.EventStore;
import io.annals.events.EventTypes;
import io.annals.events.GlobalPosition;
import io.annals.events.RecordedEvent;
import io.annals.events.aggregate.Aggregate;
import io.annals.events.aggregate.AggregateRepository;
import io.annals.events.aggregate.Loaded;
import io.annals.events.aggregate.SnapshotPolicy;
import io.annals.events.subscription.Subscription;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code annals demo events}: the bank account of the seed, event-sourced on a throwaway embedded
 * PostgreSQL. The transfers are the truth; the balance is derived by replay, as of any event,
 * by a read model that can be dropped and rebuilt, and from a snapshot.
 */
@Command(name = "events", mixinStandardHelpOptions = true,
        description = "Start an embedded PostgreSQL and event-source a bank account: append, replay, time travel, "
                + "rebuild a read model, snapshot.")
@SuppressWarnings("try") // context scopes held for their side effect
final class EventsDemoCommand implements Callable<Integer> {

    sealed interface AccountEvent permits AccountOpened, MoneyDeposited, MoneyWithdrawn { }

    record AccountOpened(String owner) implements AccountEvent { }

    record MoneyDeposited(BigDecimal amount) implements AccountEvent { }

    record MoneyWithdrawn(BigDecimal amount) implements AccountEvent { }

    record Account(String owner, BigDecimal balance) { }

    /** The fold: the balance is whatever the events say it is. */
    static final class Accounts implements Aggregate<Account, AccountEvent> {
        @Override
        public String category() {
            return "account";
        }

        @Override
        public Class<Account> stateClass() {
            return Account.class;
        }

        @Override
        public Account initialState() {
            return new Account(null, BigDecimal.ZERO);
        }

        @Override
        public Account apply(Account a, AccountEvent e) {
            return switch (e) {
                case AccountOpened o -> new Account(o.owner(), a.balance());
                case MoneyDeposited d -> new Account(a.owner(), a.balance().add(d.amount()));
                case MoneyWithdrawn w -> new Account(a.owner(), a.balance().subtract(w.amount()));
            };
        }
    }

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = DemoCommand.newFolder("annals-demo-events");
        long started = System.nanoTime();
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(dir.resolve("postgres")).start();
             EventStore store = EventStore.at(pg.jdbcUrl("postgres"))) {
            store.migrate();
            out.println("1. Embedded PostgreSQL " + pg.majorVersion() + " is up; the event store is migrated (schema annals).");
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE account_balances (account text PRIMARY KEY, owner text, balance numeric(12,2) NOT NULL)");
            }
            EventTypes<AccountEvent> types = EventTypes.of(AccountEvent.class).build();
            AggregateRepository<Account, AccountEvent> accounts = AggregateRepository.of(store, new Accounts(), types);
            String id = "alice-1";

            // The read model: a table kept up to date exactly once, in the checkpoint's transaction.
            Subscription.TransactionalHandler projector = (event, connection) -> project(types, event, connection);
            Subscription balances = Subscription.to(store, "account-balances").startTransactional(projector);
            out.println("2. Subscription 'account-balances' started: it projects balances into table account_balances.");

            try (var request = AnnalsContext.with(Map.of("user_id", 42, "request_id", "req-2001"))) {
                accounts.execute(id, a -> List.of(new AccountOpened("alice")));
                accounts.execute(id, a -> List.of(new MoneyDeposited(new BigDecimal("50"))));
            }
            try (var request = AnnalsContext.with(Map.of("user_id", 42, "request_id", "req-2002"))) {
                accounts.execute(id, a -> List.of(new MoneyDeposited(new BigDecimal("125"))));
            }
            try (var request = AnnalsContext.with(Map.of("user_id", 7, "request_id", "req-2003"))) {
                accounts.execute(id, a -> {
                    if (a.balance().compareTo(new BigDecimal("75")) < 0) throw new IllegalStateException("insufficient funds");
                    return List.of(new MoneyWithdrawn(new BigDecimal("75")));
                });
            }
            out.println("3. Opened account " + id + ", deposited 50, deposited 125, withdrew 75. The events (stream "
                    + accounts.streamId(id) + "):");
            out.println();
            TablePrinter events = new TablePrinter(List.of("version", "type", "data", "metadata (application context)", "position"),
                    new int[]{7, 15, 20, 44, 12});
            List<RecordedEvent> stream = store.readStream(accounts.streamId(id)).toList();
            for (RecordedEvent e : stream) {
                events.add(String.valueOf(e.streamVersion()), e.type(), e.data(), e.metadata(), e.globalPosition().toString());
            }
            events.print(out);
            out.println();

            Loaded<Account> now = accounts.load(id);
            out.println("4. Balance rebuilt by replaying " + now.version() + " events: " + now.state().balance());
            out.println("5. Balance as of each event:");
            for (RecordedEvent e : stream) {
                Loaded<Account> then = accounts.loadAtVersion(id, e.streamVersion());
                out.printf("     after version %d (%s): %s%n", then.version(), e.type(), then.state().balance());
            }

            GlobalPosition last = stream.getLast().globalPosition();
            balances.awaitCheckpoint(last, Duration.ofSeconds(30));
            out.println("6. Read model account_balances: " + readModel(pg));
            balances.close();
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                s.execute("TRUNCATE account_balances");
            }
            Subscription.reset(store, "account-balances");
            out.println("7. Dropped the read state (TRUNCATE, checkpoint reset): " + readModel(pg));
            try (Subscription rebuilt = Subscription.to(store, "account-balances").startTransactional(projector)) {
                rebuilt.awaitCheckpoint(last, Duration.ofSeconds(30));
                out.println("   Recovered from the events: " + readModel(pg));
            }

            AggregateRepository<Account, AccountEvent> snapshotting = accounts.withSnapshots(SnapshotPolicy.everyEvents(100), 1);
            Loaded<Account> snap = snapshotting.snapshot(id);
            Loaded<Account> fromSnapshot = snapshotting.load(id);
            out.println("8. Took a snapshot at version " + snap.version() + " (schema version "
                    + snapshotting.snapshotSchemaVersion()
                    + "); loading now starts from it (snapshot version " + fromSnapshot.snapshotVersion() + ", "
                    + (fromSnapshot.version() - fromSnapshot.snapshotVersion()) + " events replayed): balance "
                    + fromSnapshot.state().balance());
            out.println();
            out.printf("9. Done in %.1f s.%n", (System.nanoTime() - started) / 1e9);
        } finally {
            DemoCommand.deleteRecursively(dir);
        }
        return 0;
    }

    private static void project(EventTypes<AccountEvent> types, RecordedEvent event, Connection c) throws Exception {
        String account = event.streamId();
        switch (types.decode(event).orElseThrow()) {
            case AccountOpened o -> update(c, "INSERT INTO account_balances (account, owner, balance) VALUES (?, ?, 0)", account, o.owner());
            case MoneyDeposited d -> update(c, "UPDATE account_balances SET balance = balance + ? WHERE account = ?", d.amount(), account);
            case MoneyWithdrawn w -> update(c, "UPDATE account_balances SET balance = balance - ? WHERE account = ?", w.amount(), account);
        }
    }

    private static void update(Connection c, String sql, Object... parameters) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) ps.setObject(i + 1, parameters[i]);
            ps.executeUpdate();
        }
    }

    private static String readModel(EmbeddedPostgres pg) throws Exception {
        StringBuilder rows = new StringBuilder();
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT account, owner, balance FROM account_balances ORDER BY account")) {
            while (rs.next()) {
                rows.append(rows.isEmpty() ? "" : ", ").append(rs.getString(1)).append(" (").append(rs.getString(2))
                        .append(") = ").append(rs.getBigDecimal(3).toPlainString());
            }
        }
        return rows.isEmpty() ? "(empty)" : rows.toString();
    }
}
