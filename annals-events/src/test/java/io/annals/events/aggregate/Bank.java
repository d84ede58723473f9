package io.annals.events.aggregate;

import java.math.BigDecimal;

/** The bank account of the tests: events, state and fold. */
final class Bank {

    private Bank() {
    }

    sealed interface AccountEvent permits AccountOpened, MoneyDeposited, MoneyWithdrawn {
    }

    record AccountOpened(String owner) implements AccountEvent {
    }

    record MoneyDeposited(BigDecimal amount) implements AccountEvent {
    }

    record MoneyWithdrawn(BigDecimal amount) implements AccountEvent {
    }

    record Account(String owner, BigDecimal balance, int transactions) {
    }

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
            return new Account(null, BigDecimal.ZERO, 0);
        }

        @Override
        public Account apply(Account a, AccountEvent e) {
            return switch (e) {
                case AccountOpened o -> new Account(o.owner(), a.balance(), a.transactions());
                case MoneyDeposited d -> new Account(a.owner(), a.balance().add(d.amount()), a.transactions() + 1);
                case MoneyWithdrawn w -> new Account(a.owner(), a.balance().subtract(w.amount()), a.transactions() + 1);
            };
        }
    }

    /** The same account with a changed state shape (no transaction count): old snapshots must not be read as it. */
    record SlimAccount(String owner, BigDecimal balance) {
    }

    static final class SlimAccounts implements Aggregate<SlimAccount, AccountEvent> {
        @Override
        public String category() {
            return "account";
        }

        @Override
        public Class<SlimAccount> stateClass() {
            return SlimAccount.class;
        }

        @Override
        public SlimAccount initialState() {
            return new SlimAccount(null, BigDecimal.ZERO);
        }

        @Override
        public SlimAccount apply(SlimAccount a, AccountEvent e) {
            return switch (e) {
                case AccountOpened o -> new SlimAccount(o.owner(), a.balance());
                case MoneyDeposited d -> new SlimAccount(a.owner(), a.balance().add(d.amount()));
                case MoneyWithdrawn w -> new SlimAccount(a.owner(), a.balance().subtract(w.amount()));
            };
        }
    }

    static BigDecimal money(String amount) {
        return new BigDecimal(amount);
    }
}
