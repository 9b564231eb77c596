"""As-of balances and statements against a replay of the history (Hypothesis; runs on SQLite and,
with DATABASE_URL, on PostgreSQL).

The replay never reads `balance_after`: it sums the amounts of the entries created at or before
an instant, and the holds whose lifetime covers it.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import InsufficientFundsError
from ledger.history import account_balance_as_of, statement_get, statement_posting_list
from ledger.models import Account, Hold, Posting
from ledger.services import (
    Leg,
    deposit_create,
    entry_post,
    hold_create,
    hold_release,
    system_account_get,
    transfer_create,
    withdrawal_create,
)
from tests.factories import EndUserFactory, open_account

pytestmark = pytest.mark.django_db

MICROSECOND = timedelta(microseconds=1)

operation = st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 10_000)),
    st.tuples(st.just("withdraw"), st.integers(1, 10_000)),
    st.tuples(st.just("send"), st.integers(1, 10_000)),
    st.tuples(st.just("receive"), st.integers(1, 10_000)),
    st.tuples(st.just("hold"), st.integers(1, 10_000)),
    st.tuples(st.just("release"), st.integers(0, 10)),
    st.tuples(st.just("two_legs"), st.integers(1, 5_000)),  # two postings of one entry on one account
)


def _run(operation_name: str, amount: int, *, account: Account, peer: Account, holds: list[Hold]) -> None:
    account.refresh_from_db()
    try:
        if operation_name == "deposit":
            deposit_create(account=account, amount=amount)
        elif operation_name == "withdraw":
            withdrawal_create(account=account, amount=amount)
        elif operation_name == "send":
            transfer_create(from_account=account, to_account=peer, amount=amount)
        elif operation_name == "receive":
            deposit_create(account=peer, amount=amount)
            transfer_create(from_account=peer, to_account=account, amount=amount)
        elif operation_name == "hold":
            holds.append(hold_create(account=account, amount=amount))
        elif operation_name == "release":
            if holds:
                hold_release(hold=holds.pop(amount % len(holds)))
        else:
            funding = system_account_get(client=account.client_id, currency="USD", kind=Account.Kind.FUNDING)
            entry_post(
                client_id=account.client_id,
                kind="adjustment",
                legs=[Leg(account, -amount), Leg(account, -1), Leg(funding, amount + 1)],
            )
    except InsufficientFundsError:
        pass  # a refused debit is part of history too: nothing written


def _replayed(account: Account, instant) -> tuple[int, int]:
    """(balance, available) at `instant`, from amounts and hold lifetimes only."""
    balance = sum(
        Posting.objects.filter(account=account, entry__created_at__lte=instant).values_list("amount", flat=True)
    )
    held = sum(
        hold.amount
        for hold in Hold.objects.filter(account=account)
        if hold.created_at <= instant and (hold.closed_at is None or hold.closed_at > instant)
    )
    return balance, balance - held


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=st.lists(operation, min_size=1, max_size=12),
    offsets=st.lists(st.integers(min_value=0, max_value=10**6), max_size=5),
    period=st.tuples(st.integers(0, 30), st.integers(0, 30)),
)
def test_as_of_balances_and_statements_match_a_replay_of_history(ledger_without_observers, operations, offsets, period):
    # given: a fresh user with a history of random movements and holds
    user = EndUserFactory()
    account = open_account(user, "USD", deposit=5_000)
    peer = open_account(EndUserFactory(client=user.client), "USD")
    holds: list[Hold] = []
    for name, amount in operations:
        _run(name, amount, account=account, peer=peer, holds=holds)
    postings = list(Posting.objects.filter(account=account).order_by("sequence"))
    first, last = postings[0].posted_at, postings[-1].posted_at
    hold_instants = [
        instant for hold in Hold.objects.filter(account=account) for instant in (hold.created_at, hold.closed_at)
        if instant is not None
    ]
    # instants: at, just before and just after every posting and hold event (an entry's postings
    # share one instant), before the first posting, in the future, and anywhere in between
    instants = {first - timedelta(days=1), timezone.now() + timedelta(days=365)}
    for instant in [posting.posted_at for posting in postings] + hold_instants:
        instants |= {instant - MICROSECOND, instant, instant + MICROSECOND}
    span = max(last - first, MICROSECOND)
    instants |= {first + span * offset / 10**6 for offset in offsets}

    # then: every as-of answer is the replayed one
    for instant in sorted(instants):
        answer = account_balance_as_of(account=account, as_of=instant)
        assert (answer.balance, answer.available) == _replayed(account, instant), instant

    # and a statement over any period opens and closes on the replay, with opening + credits -
    # debits = closing and each entry's balance_after following from the one before
    ordered = sorted(instants)
    start, end = sorted((ordered[period[0] % len(ordered)], ordered[period[1] % len(ordered)]))
    statement = statement_get(account=account, start=start, end=end)
    assert statement.opening_balance == _replayed(account, start - MICROSECOND)[0]
    assert statement.closing_balance == _replayed(account, end - MICROSECOND)[0]
    assert statement.opening_balance + statement.total_credits - statement.total_debits == statement.closing_balance
    running = statement.opening_balance
    for posting in statement_posting_list(statement=statement):
        running += posting.amount
        assert posting.balance_after == running
        assert start <= posting.posted_at < end
    assert running == statement.closing_balance
