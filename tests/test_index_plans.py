"""Each index on a table that every money movement writes is there for a read: with a history
loaded and statistics fresh (ANALYZE), that read's plan on PostgreSQL probes the index and scans
none of the big tables.

Those tables keep only these indexes (each one costs a write per movement, and the account's
balance columns stay unindexed so its update can be heap-only), so a dropped index a read still
needs, or a read that stops matching its index, shows up here rather than as a slow endpoint."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.callers import Caller, CallerKind
from core.api.idempotency import idempotency_purge
from core.models import IdempotencyRecord
from events import delivery
from events.models import Event
from events.selectors import event_list
from events.services import events_purge
from ledger.history import account_balance_as_of, statement_get, statement_posting_list
from ledger.models import Account, JournalEntry, Posting
from ledger.selectors import entry_list
from ledger.services import system_account_get
from tests.factories import EndUserFactory, open_account

pytestmark = pytest.mark.django_db

ENTRIES = 20_000
EVENTS = 20_000


def _plan_nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _explained(query: str | QuerySet) -> list[dict]:
    """The plan of `query`: SQL as sent (captured, parameters bound) or a queryset."""
    if isinstance(query, QuerySet):
        plan = query.explain(format="json")
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {query}")
            plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return list(_plan_nodes(plan[0]["Plan"]))


def _assert_probes(query: str | QuerySet, *, index: str | None, tables: tuple[str, ...]) -> None:
    """The plan reads `index` (its name, or a name starting with it for Django's hashed names; any
    index if None) and scans none of `tables` whole."""
    nodes = _explained(query)
    shown = f"{str(query if isinstance(query, str) else query.query)[:1000]}\n{json.dumps(nodes, indent=1)[:4000]}"
    assert any(node.get("Index Name", "").startswith(index or "") for node in nodes), shown
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan" and node["Relation Name"] in tables], shown


@pytest.fixture
def postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "query plans are PostgreSQL's (set DATABASE_URL=postgres://...): SQLite's planner is not the "
            "one these indexes are chosen for"
        )


def _caller(tenant) -> Caller:
    return Caller(kind=CallerKind.API_KEY, client_id=tenant.client.pk, api_key_id=tenant.api_key.pk)


def _one_sql(captured, *words: str) -> str:
    (sql,) = [query["sql"] for query in captured.captured_queries if all(word in query["sql"] for word in words)]
    return sql


def _analyze(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


# What each table written by every money movement is indexed on (column lists; the primary key
# included). A new index here costs a write per movement: add it with the read that needs it,
# and a plan test below.
INDEXED = {
    "ledger_posting": {
        ("id",), ("entry_id",), ("account_id", "sequence"), ("account_id", "entry_id"),
        ("account_id", "posted_at", "sequence"),
    },
    "ledger_journalentry": {("id",), ("reverses_id",), ("client_id", "kind", "created_at"), ("created_at",)},
    "events_event": {("id",), ("public_id",), ("client_id", "id"), ("client_id", "type", "id"), ("created_at",)},
    "events_webhookdelivery": {("id",), ("event_id", "endpoint_id"), ("endpoint_id",), ("status", "next_attempt_at")},
    "operations_movementcount": {("id",), ("user_id", "minute")},
    "core_idempotencyrecord": {("id",), ("scope", "key"), ("expires_at",)},
}


def _indexed(table: str) -> set[tuple[str, ...]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {tuple(c["columns"]) for c in found.values() if c["index"] or c["unique"] or c["primary_key"]}


@pytest.mark.parametrize("table", sorted(INDEXED))
def test_the_tables_every_movement_writes_keep_only_the_indexes_their_reads_need(table):
    assert _indexed(table) == INDEXED[table]


def test_applying_a_posting_changes_no_indexed_column_of_the_account():
    # The UPDATE of balance, held and sequence can then be heap-only on PostgreSQL (no index
    # entries written), as long as no index holds one of them.
    indexed_columns = {column for columns in _indexed("ledger_account") for column in columns}
    assert not {"balance", "held", "sequence"} & indexed_columns


@pytest.fixture
def history(postgres, tenant):
    """20,000 transfers from the client's funding account to 20 user accounts over the last 20
    days (each account ≈ 1,000 postings), and the tenant's own account among them."""
    accounts = [tenant.usd] + [open_account(EndUserFactory(client=tenant.client), "USD") for _ in range(19)]
    funding = system_account_get(client=tenant.client, currency="USD", kind=Account.Kind.FUNDING)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalentry (client_id, kind, reference, metadata, created_at) "
            "SELECT %s, 'transfer', '', '{}', now() - make_interval(secs => n * 86.4) "
            "FROM generate_series(%s, 1, -1) AS n",
            [tenant.client.pk, ENTRIES],
        )
        # Each posting continues its account's sequence; running balances are not what this reads.
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at) "
            "SELECT legs.entry_id, legs.account_id, legs.amount, "
            "a.sequence + row_number() OVER (PARTITION BY legs.account_id ORDER BY legs.entry_id), 0, 0, legs.at "
            "FROM (SELECT e.id AS entry_id, (%s::bigint[])[1 + e.id %% 20] AS account_id, 1 AS amount, "
            "e.created_at AS at FROM ledger_journalentry e WHERE e.client_id = %s AND e.reference = '' "
            "AND NOT EXISTS (SELECT 1 FROM ledger_posting p WHERE p.entry_id = e.id) "
            "UNION ALL SELECT e.id, %s, -1, e.created_at FROM ledger_journalentry e WHERE e.client_id = %s "
            "AND e.reference = '' AND NOT EXISTS (SELECT 1 FROM ledger_posting p WHERE p.entry_id = e.id)) legs "
            "JOIN ledger_account a ON a.id = legs.account_id",
            [[account.pk for account in accounts], tenant.client.pk, funding.pk, tenant.client.pk],
        )
    _analyze("ledger_account", "ledger_journalentry", "ledger_posting")
    return accounts


@pytest.fixture
def events(postgres, tenant):
    """20,000 events of the tenant's client over the last 20 days, each delivered once to its
    endpoint (a handful still pending)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_event (public_id, type, client_id, created_at, data) "
            "SELECT 'evt_' || md5(n::text), 'transaction.created', %s, now() - make_interval(secs => n * 86.4), '{}' "
            "FROM generate_series(%s, 1, -1) AS n",
            [tenant.client.pk, EVENTS],
        )
        cursor.execute(
            "INSERT INTO events_webhookdelivery (event_id, endpoint_id, status, attempts, next_attempt_at, created_at) "
            "SELECT e.id, %s, CASE WHEN e.id %% 5000 = 0 THEN 'pending' ELSE 'succeeded' END, 1, "
            "CASE WHEN e.id %% 5000 = 0 THEN e.created_at END, e.created_at "
            "FROM events_event e WHERE e.client_id = %s AND e.public_id LIKE 'evt\\_' || '%%' "
            "AND NOT EXISTS (SELECT 1 FROM events_webhookdelivery d WHERE d.event_id = e.id)",
            [tenant.webhook_endpoint.pk, tenant.client.pk],
        )
    _analyze("events_event", "events_webhookdelivery", "events_webhookendpoint")


def test_a_balance_as_of_an_instant_is_one_probe_of_the_asof_index(history, tenant):
    with CaptureQueriesContext(connection) as captured:
        account_balance_as_of(account=tenant.usd, as_of=timezone.now() - timedelta(days=7))
    sql = _one_sql(captured, "ledger_posting", "posted_at")
    _assert_probes(sql, index="ledger_posting_account_asof", tables=("ledger_posting",))


def test_a_statement_reads_its_period_and_page_by_account_and_sequence(history, tenant):
    with CaptureQueriesContext(connection) as captured:
        statement = statement_get(
            account=tenant.usd, start=timezone.now() - timedelta(days=8), end=timezone.now() - timedelta(days=7)
        )
    for sql in [query["sql"] for query in captured.captured_queries if "ledger_posting" in query["sql"]]:
        index = "ledger_posting_account_asof" if "posted_at" in sql else "ledger_posting_account_sequence_unique"
        _assert_probes(sql, index=index, tables=("ledger_posting",))
    page = statement_posting_list(statement=statement)[:100]
    _assert_probes(page, index="ledger_posting_account_sequence_unique", tables=("ledger_posting",))


def test_an_entrys_postings_are_read_by_entry(history, tenant):
    newest = list(JournalEntry.objects.filter(client=tenant.client).order_by("-id").values_list("pk", flat=True)[:50])
    with CaptureQueriesContext(connection) as captured:
        assert len(entry_list(caller=_caller(tenant)).filter(pk__in=newest)) == 50
    sql = _one_sql(captured, 'FROM "ledger_posting"', "entry_id")
    _assert_probes(sql, index="ledger_posting_entry_id", tables=("ledger_posting",))


def test_a_users_recent_deposits_are_read_from_their_accounts_postings(history, tenant):
    # The compliance rule "withdrawal after a large deposit" (operations.compliance): from the
    # user's accounts' postings or from the day's entries, whichever is fewer, never a scan.
    recent = Posting.objects.filter(
        account__user_id=tenant.user.pk, entry__kind=JournalEntry.Kind.DEPOSIT,
        entry__created_at__gte=timezone.now() - timedelta(days=1), amount__gt=0,
    ).values_list("entry_id", "account__currency_id", "amount")
    _assert_probes(recent, index=None, tables=("ledger_posting", "ledger_journalentry"))


def test_the_whole_journal_newest_first_is_read_from_the_date_index(history, tenant):
    # The admin's journal list, in the model's order, and the period filters without a client.
    newest = JournalEntry.objects.all()[:100]
    _assert_probes(newest, index="ledger_journalentry_created_at", tables=("ledger_journalentry",))
    period = JournalEntry.objects.filter(created_at__gte=timezone.now() - timedelta(hours=12))
    _assert_probes(period, index="ledger_journalentry_created_at", tables=("ledger_journalentry",))


def test_another_clients_journal_is_not_read_through_this_ones(history, tenant, other_tenant):
    journal = entry_list(caller=_caller(other_tenant)).order_by("-id")[:51]
    _assert_probes(journal, index="ledger_jour_client__c5b149_idx", tables=("ledger_journalentry",))


def test_another_clients_event_feed_is_not_read_through_this_ones(events, tenant, other_tenant):
    feed = event_list(caller=_caller(other_tenant)).order_by("id")
    _assert_probes(feed[:51], index="events_event_client_id", tables=("events_event",))


def test_a_feed_of_one_rare_type_is_not_read_through_the_clients_other_events(events, tenant):
    # given: 20,000 transaction.created events and one order.accepted (the tenant's order)
    typed = event_list(caller=_caller(tenant)).filter(type=Event.Type.ORDER_ACCEPTED).order_by("id")
    assert typed.count() == 1
    _assert_probes(typed[:51], index="events_event_client_type_id", tables=("events_event",))


def test_an_event_is_found_by_its_public_id(events, tenant):
    found = Event.objects.filter(client=tenant.client, public_id=tenant.event.public_id)
    _assert_probes(found, index="events_event_public_id_unique", tables=("events_event",))


def test_the_deliveries_sweep_reads_only_due_deliveries(events, tenant, monkeypatch):
    monkeypatch.setattr(delivery, "delivery_attempt", lambda *, delivery_id: None)  # the query, not the POSTs
    with CaptureQueriesContext(connection) as captured:
        delivery.deliveries_due_run()
    sql = _one_sql(captured, "events_webhookdelivery", "next_attempt_at")
    _assert_probes(sql, index="events_delivery_due", tables=("events_webhookdelivery",))


def test_the_event_purge_finds_old_events_by_age_and_their_deliveries_by_event(events, tenant, settings):
    # given: the oldest 50 events of 20,000 are past the retention period
    settings.EVENT_RETENTION_DAYS = 19.95
    with CaptureQueriesContext(connection) as captured:
        assert 45 <= events_purge() <= 55
    old = _one_sql(captured, 'FROM "events_event"', "created_at")
    _assert_probes(old, index="events_event_created_at", tables=("events_event",))
    deliveries = _one_sql(captured, 'FROM "events_webhookdelivery"', "event_id")
    _assert_probes(deliveries, index="events_delivery_one_per_endpoint", tables=("events_webhookdelivery",))


def test_idempotency_records_are_found_by_scope_and_key_and_purged_by_expiry(postgres):
    # given: 20,000 records of 50 callers, written over the last 5.5 hours, kept for a day
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_idempotencyrecord (scope, key, request_hash, content_type, created_at, expires_at) "
            "SELECT 'client:' || (n %% 50), md5(n::text), '', '', %s - make_interval(secs => n), "
            "%s + interval '1 day' - make_interval(secs => n) FROM generate_series(1, 20000) AS n",
            [now, now],
        )
    _analyze("core_idempotencyrecord")
    found = IdempotencyRecord.objects.filter(scope="client:7", key="b4b147bc522828731f1a016bfa72c073")
    _assert_probes(found, index="core_idempotencyrecord_scope_key_unique", tables=("core_idempotencyrecord",))
    with CaptureQueriesContext(connection) as captured:
        # the oldest 50 of the 20,000 have expired
        assert 45 <= idempotency_purge(now=now + timedelta(days=1, seconds=-19_950)) <= 55
    sql = _one_sql(captured, "core_idempotencyrecord", "expires_at")
    _assert_probes(sql, index="core_idempotencyrecord_expires_at", tables=("core_idempotencyrecord",))
