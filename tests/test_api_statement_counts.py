"""SQL statements per request on the money path, through the whole stack (API-key
authentication, throttling, `Idempotency-Key`, compliance, the ledger, rendering).

Statement counts are deterministic where throughput figures are not, so the budget of each hot
endpoint is asserted here; `docs/performance.md` explains each statement that remains. A failure
prints every statement sent. Throttling counts live in the shared cache (Redis in production),
so the cache is process-local here: only database statements are counted.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from broker.models import Order
from broker.services import OrderRequest, order_execute, order_submit
from ledger.models import Currency, JournalEntry

pytestmark = pytest.mark.django_db

LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The budgets (statements per request). Lower them when a change earns it; never raise them
# without saying why in docs/performance.md.
# Raised by the events outbox (+1 per movement on PostgreSQL: the event and its deliveries in one
# statement; +3 through the ORM on SQLite), lowered by the cached API key (-1), by the ledger's
# updates, entry and postings in one call of `ledger_entry_post` (-3) and by services opening no
# savepoint within the idempotent request's whole transaction (-2), and for deposits by the
# funding account kept per process (-1); see docs/performance.md, "Statements per request".
# A transfer or deposit on PostgreSQL is then 3: the key's lock with the check for a stored
# outcome, the account read, and one statement that is the rest (`ledger_entry_post_request`, in
# autocommit: the claim, the ledger, the event, compliance, the reply). Measured in autocommit,
# as production runs; SQLite keeps the transaction path (`SQLITE_TRANSACTION_PATH`).
TRANSFER_BUDGET = 3
DEPOSIT_BUDGET = 3
BALANCES_BUDGET = 1
# 6 around the batch (BEGIN and COMMIT, the idempotency claim and outcome, one read of every
# account, one lock of them all: no savepoints within the request's whole transaction), 3 for all
# its transfers whatever their number (one call of `ledger_entries_post`, one statement for the
# events with their deliveries, one for the velocity counters), and 4 here for the two review
# items the seeded velocity rule opens as both users pass 20 an hour. Until the batch was posted
# set-based it was 3 per transfer (40 for 10).
BATCH_BUDGET = 13
# Compliance bumps and reads its velocity counters in one statement on PostgreSQL, two on SQLite;
# the event and its deliveries are one statement on PostgreSQL, three through the ORM on SQLite;
# the ledger's part is one call on PostgreSQL, four statements on SQLite (two updates, the entry,
# its postings).
SQLITE_EXTRA_PER_MOVEMENT = 1 + 2 + 3
# SQLite's transaction path for a transfer or deposit: BEGIN, the claim, the account read, the
# ledger's call, the event, the counters, the outcome and COMMIT, as PostgreSQL's was (8), each
# SQLite's way (the above).
SQLITE_TRANSACTION_PATH = 8 - TRANSFER_BUDGET + SQLITE_EXTRA_PER_MOVEMENT
# An event other than a movement's (order.accepted, order.filled): two more through the ORM.
SQLITE_EXTRA_PER_EVENT = 2
# SQLite posts a batch entry by entry: per transfer the ledger's four statements, the event's three
# and compliance's two, where PostgreSQL has three statements for the whole batch.
SQLITE_PER_BATCH_ITEM = 4 + 3 + 2


@pytest.fixture(autouse=True)
def _process_local_cache(settings):
    settings.CACHES = LOCAL_CACHE


@pytest.fixture
def compliance_rules_cached(settings):
    """Production keeps compliance rules for a few seconds; tests read them every time."""
    settings.COMPLIANCE_RULES_CACHE_SECONDS = 60


def _statements(queries) -> str:
    return "\n".join(f"{number:>3}. {query['sql']}" for number, query in enumerate(queries, start=1))


def _measure(send):
    send(warm=True)  # first use of a key, a rule cache and the like are not the steady state
    with CaptureQueriesContext(connection) as captured:
        response = send(warm=False)
    # Work after commit (a webhook delivery handed to the task queue) is not the request's.
    return response, [query for query in captured.captured_queries if TASK_ENQUEUE not in query["sql"]]


TASK_ENQUEUE = 'INSERT INTO "django_tasks_database_dbtaskresult"'


def _within(queries, budget: int, *, sqlite_extra: int = 0) -> None:
    if connection.vendor == "sqlite":
        budget += sqlite_extra
    assert len(queries) <= budget, f"{len(queries)} statements (budget {budget}):\n{_statements(queries)}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transfer_stays_within_its_statement_budget(api, tenant, compliance_rules_cached):
    counter = iter(range(1000))

    def send(*, warm: bool):
        return api.post(
            "/api/v1/transfers/",
            {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": "0.01"},
            format="json", HTTP_IDEMPOTENCY_KEY=f"t-{next(counter)}", **tenant.auth,
        )

    response, queries = _measure(send)
    assert response.status_code == 201, response.content
    assert JournalEntry.objects.filter(pk=response.json()["id"]).exists()
    _within(queries, TRANSFER_BUDGET, sqlite_extra=SQLITE_TRANSACTION_PATH)
    # the happy path neither waits under lock_timeout nor re-reads what it just wrote
    sent = _statements(queries)
    assert "lock_timeout" not in sent and 'FROM "core_idempotencyrecord"' not in sent, sent
    assert 'FROM "ledger_posting"' not in sent and 'FROM "ledger_journalentry"' not in sent, sent
    assert "SAVEPOINT" not in sent, sent


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_deposit_stays_within_its_statement_budget(
    api, tenant, compliance_rules_cached, django_capture_on_commit_callbacks
):
    counter = iter(range(1000))

    def send(*, warm: bool):
        # The first one committed, as in production: the process then keeps the funding account.
        # (The measured one's after-commit work is left out, as for a transfer.)
        with django_capture_on_commit_callbacks(execute=warm):
            return api.post(
                "/api/v1/deposits/", {"account": tenant.peer_usd.pk, "amount": "0.01"},
                format="json", HTTP_IDEMPOTENCY_KEY=f"d-{next(counter)}", **tenant.auth,
            )

    response, queries = _measure(send)
    assert response.status_code == 201, response.content
    _within(queries, DEPOSIT_BUDGET, sqlite_extra=SQLITE_TRANSACTION_PATH)


@pytest.mark.parametrize("size", [10, 100])
def test_a_batch_of_transfers_stays_within_its_statement_budget_whatever_its_size(
    api, tenant, compliance_rules_cached, size
):
    counter = iter(range(1000))
    transfers = [{"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": "0.01"}] * size

    def send(*, warm: bool):
        return api.post(
            "/api/v1/transfers/batch/", {"transfers": transfers, "atomic": True},
            format="json", HTTP_IDEMPOTENCY_KEY=f"b-{next(counter)}", **tenant.auth,
        )

    response, queries = _measure(send)
    assert response.status_code == 201, response.content
    _within(queries, BATCH_BUDGET, sqlite_extra=size * SQLITE_PER_BATCH_ITEM - 3)


def test_user_balances_stay_within_their_statement_budget(api, tenant):
    def send(*, warm: bool):
        return api.get(f"/api/v1/users/{tenant.user.pk}/balances/", **tenant.auth)

    response, queries = _measure(send)
    assert response.status_code == 200
    _within(queries, BALANCES_BUDGET)



# A market buy through the API, end to end: BEGIN, the idempotency claim, the user with its
# client, the currency, the offering, authorization and rate, both user accounts, the hold's
# guarded UPDATE and row, the order, its event, the idempotency outcome, COMMIT (12), then once
# committed the order's task row and, as this client has a webhook endpoint, the delivery task's
# row. See docs/performance.md, "Orders".
ORDER_SUBMIT_BUDGET = 14
# One fill by the worker's service: BEGIN, the order locked with its hold, currency, user, quote and
# price, both user accounts with the authorization, then entry_post (savepoint — the fill recovers
# from a refusal by rejecting the order —, `ledger_entry_post`: the account locks, the hold's
# capture, one guarded UPDATE per account (5), the entry and its postings, in one call; its event,
# velocity counters, the currency's value for compliance, release), the order's UPDATE, its
# event, COMMIT: 12. System accounts come from the per-process cache. SQLite sends 13 more: the
# ledger's steps one by one (+8: the lock, the hold, five updates, the entry and postings as two),
# the events and counters through the ORM (+5).
ORDER_FILL_BUDGET = 12
SQLITE_EXTRA_PER_FILL = 13


def test_a_market_order_submission_stays_within_its_statement_budget(
    api, tenant, compliance_rules_cached, django_capture_on_commit_callbacks
):
    counter = iter(range(1000))

    def send(*, warm: bool):
        # The task is enqueued once the request's transaction commits: counted too.
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                "/api/v1/orders/",
                {"user": tenant.user.pk, "side": "buy", "currency": "BTC", "quantity": "0.00001"},
                format="json", HTTP_IDEMPOTENCY_KEY=f"o-{next(counter)}", **tenant.auth,
            )

    response, queries = _measure(send)
    assert response.status_code == 202, response.content
    _within(queries, ORDER_SUBMIT_BUDGET, sqlite_extra=SQLITE_EXTRA_PER_EVENT)
    # one savepoint-free transaction: no savepoint of its own, none in the hold
    assert sum(1 for query in queries if query["sql"].startswith("SAVEPOINT")) <= 1, _statements(queries)


def test_a_market_order_fill_stays_within_its_statement_budget(
    tenant, compliance_rules_cached, django_capture_on_commit_callbacks
):
    bitcoin = Currency.objects.get(code="BTC")

    def submitted() -> Order:
        return order_submit(request=OrderRequest(user=tenant.user, side="buy", currency=bitcoin, quantity=1_000))

    with django_capture_on_commit_callbacks(execute=True):  # what a committed fill leaves cached
        order_execute(order_id=submitted().pk)
    order = submitted()
    with CaptureQueriesContext(connection) as captured:
        filled = order_execute(order_id=order.pk)
    assert filled.status == Order.Status.FILLED
    queries = captured.captured_queries
    _within(queries, ORDER_FILL_BUDGET, sqlite_extra=SQLITE_EXTRA_PER_FILL)
    # neither the hold, the currency nor a system account is read on its own
    sent = _statements(queries)
    assert 'FROM "ledger_hold"' not in sent and 'FROM "ledger_currency" WHERE' not in sent, sent
