"""The ledger against a model: random sequences of movements, checked after every step.

Hypothesis drives deposits, withdrawals, transfers, reversals and holds against three user
accounts, and keeps an in-memory model of what each balance and hold must be. After each step
the database must equal the model; at the end of each run the ledger must verify clean and, on
PostgreSQL, every entry must pass the deferred zero-sum trigger. Each run happens inside a
savepoint that is rolled back, so runs do not see each other.
"""

from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from core.errors import DomainError
from ledger.models import Account, Hold, JournalEntry
from ledger.services import (
    Leg,
    deposit_create,
    entry_post,
    hold_create,
    hold_release,
    system_account_get,
    transfer_create,
    transfer_reverse,
    withdrawal_create,
)
from ledger.verification import ledger_verify
from tests.factories import ClientFactory, EndUserFactory, open_account

USERS = 3
AMOUNTS = st.integers(min_value=1, max_value=20_000)
USER_INDEX = st.integers(min_value=0, max_value=USERS - 1)


@dataclass
class ModelTransfer:
    entry_id: int
    source: int
    destination: int
    amount: int
    is_reversed: bool = False


@dataclass
class ModelHold:
    hold: Hold
    account: int
    amount: int
    is_active: bool = True


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        client = ClientFactory()
        self.client_id = client.pk
        self.accounts = [open_account(EndUserFactory(client=client), "USD") for _ in range(USERS)]
        self.funding = system_account_get(client=client, currency="USD", kind=Account.Kind.FUNDING)
        self.balances = [0] * USERS
        self.held = [0] * USERS
        self.funding_balance = 0
        self.transfers: list[ModelTransfer] = []
        self.holds: list[ModelHold] = []

    def available(self, index: int) -> int:
        return self.balances[index] - self.held[index]

    def expect(self, operation, *, accepted: bool, code: str):
        """Run `operation`; it must succeed exactly when the model says so, else fail with `code`."""
        try:
            result = operation()
        except DomainError as error:
            assert not accepted, f"refused with {error.code} although the model accepts it"
            assert error.code == code
            return None
        assert accepted, f"accepted although the model expects {code}"
        return result

    @rule(index=USER_INDEX, amount=AMOUNTS)
    def deposit(self, index, amount):
        deposit_create(account=self.accounts[index], amount=amount)
        self.balances[index] += amount
        self.funding_balance -= amount

    @rule(index=USER_INDEX, amount=AMOUNTS)
    def withdraw(self, index, amount):
        accepted = self.available(index) >= amount
        self.expect(lambda: withdrawal_create(account=self.accounts[index], amount=amount),
                    accepted=accepted, code="insufficient_funds")
        if accepted:
            self.balances[index] -= amount
            self.funding_balance += amount

    @rule(source=USER_INDEX, destination=USER_INDEX, amount=AMOUNTS)
    def transfer(self, source, destination, amount):
        if source == destination:
            accepted, code = False, "same_account"
        else:
            accepted, code = self.available(source) >= amount, "insufficient_funds"
        entry = self.expect(
            lambda: transfer_create(
                from_account=self.accounts[source], to_account=self.accounts[destination], amount=amount
            ),
            accepted=accepted,
            code=code,
        )
        if accepted:
            self.balances[source] -= amount
            self.balances[destination] += amount
            self.transfers.append(ModelTransfer(entry.pk, source, destination, amount))

    @precondition(lambda self: self.transfers)
    @rule(choice=st.integers(min_value=0))
    def reverse(self, choice):
        transfer = self.transfers[choice % len(self.transfers)]
        if transfer.is_reversed:
            accepted, code = False, "already_reversed"
        else:
            accepted, code = self.available(transfer.destination) >= transfer.amount, "insufficient_funds"
        self.expect(
            lambda: transfer_reverse(entry=JournalEntry.objects.get(pk=transfer.entry_id)),
            accepted=accepted,
            code=code,
        )
        if accepted:
            transfer.is_reversed = True
            self.balances[transfer.destination] -= transfer.amount
            self.balances[transfer.source] += transfer.amount

    @rule(index=USER_INDEX, amount=AMOUNTS)
    def hold(self, index, amount):
        accepted = self.available(index) >= amount
        hold = self.expect(lambda: hold_create(account=self.accounts[index], amount=amount),
                           accepted=accepted, code="insufficient_funds")
        if accepted:
            self.held[index] += amount
            self.holds.append(ModelHold(hold, index, amount))

    @precondition(lambda self: self.holds)
    @rule(choice=st.integers(min_value=0))
    def release(self, choice):
        held = self.holds[choice % len(self.holds)]
        self.expect(lambda: hold_release(hold=held.hold), accepted=held.is_active, code="hold_not_active")
        if held.is_active:
            held.is_active = False
            self.held[held.account] -= held.amount

    @precondition(lambda self: self.holds)
    @rule(choice=st.integers(min_value=0), fraction=st.integers(min_value=1, max_value=100))
    def spend_held(self, choice, fraction):
        # An order fill: withdraws part or all of a hold's amount, capturing the hold.
        held = self.holds[choice % len(self.holds)]
        amount = max(1, held.amount * fraction // 100)
        account = self.accounts[held.account]
        self.expect(
            lambda: entry_post(
                client_id=self.client_id,
                kind="trade",
                legs=[Leg(account, -amount), Leg(self.funding, amount)],
                captured_holds=[Hold.objects.get(pk=held.hold.pk)],
            ),
            accepted=held.is_active,
            code="hold_not_active",
        )
        if held.is_active:
            held.is_active = False
            self.held[held.account] -= held.amount
            self.balances[held.account] -= amount
            self.funding_balance += amount

    @invariant()
    def database_matches_the_model(self):
        stored = dict(
            Account.objects.filter(pk__in=[account.pk for account in self.accounts]).values_list(
                "pk", "balance"
            )
        )
        assert [stored[account.pk] for account in self.accounts] == self.balances
        stored_held = dict(Account.objects.filter(client_id=self.client_id).values_list("pk", "held"))
        assert [stored_held[account.pk] for account in self.accounts] == self.held
        assert Account.objects.get(pk=self.funding.pk).balance == self.funding_balance

    def teardown(self):
        try:
            report = ledger_verify(record=False)
            assert report.is_ok, report.violations
            if connection.vendor == "postgresql":
                # Run the deferred zero-sum trigger now for every entry of this run.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        finally:
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)


def test_random_ledger_histories_match_the_model(db, settings_override):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.fixture
def settings_override(settings):
    # The ledger core on its own; observers (compliance review) are exercised by their own tests.
    settings.LEDGER_ENTRY_OBSERVERS = []
