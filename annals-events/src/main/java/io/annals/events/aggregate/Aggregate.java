package io.annals.events.aggregate;

/**
 * How an aggregate's state is derived from its events: a start state and a fold. The state is
 * typically an immutable record and the events the records of a sealed interface, so that the
 * fold is an exhaustive {@code switch}.
 *
 * <pre>{@code
 * record Account(String owner, BigDecimal balance) { }
 *
 * final class Accounts implements Aggregate<Account, AccountEvent> {
 *     public String category() { return "account"; }
 *     public Class<Account> stateClass() { return Account.class; }
 *     public Account initialState() { return new Account(null, BigDecimal.ZERO); }
 *     public Account apply(Account a, AccountEvent e) {
 *         return switch (e) {
 *             case AccountOpened o -> new Account(o.owner(), a.balance());
 *             case MoneyDeposited d -> new Account(a.owner(), a.balance().add(d.amount()));
 *             case MoneyWithdrawn w -> new Account(a.owner(), a.balance().subtract(w.amount()));
 *         };
 *     }
 * }
 * }</pre>
 *
 * @param <S> the state
 * @param <E> the common supertype of the events
 */
public interface Aggregate<S, E> {

    /** The stream category: an aggregate with id {@code 42} lives in stream {@code category-42}. */
    String category();

    /** The state's class, to read snapshots back. */
    Class<S> stateClass();

    /** The state before any event. */
    S initialState();

    /** The state after {@code event}; must not have side effects (it runs again on every load). */
    S apply(S state, E event);
}
