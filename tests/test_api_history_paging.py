"""An account's history is paged from its postings: every entry once, in order, and a deep page
read from the (account, entry) index, not by walking the journal."""

import base64
import json
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.models import Account, JournalEntry
from ledger.services import Leg, entry_post, system_account_get

pytestmark = pytest.mark.django_db


def _pages(api, url, auth):
    ids, pages = [], 0
    while url:
        body = api.get(url, **auth).json()
        ids += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    return ids, pages


def test_an_accounts_history_pages_through_every_entry_once_newest_first(api, tenant):
    # given: more entries than a page, one of which posts twice to the account
    for _ in range(5):
        api.post("/api/v1/deposits/", {"account": tenant.peer_usd.pk, "amount": "1"}, format="json", **tenant.auth)
    funding = system_account_get(client=tenant.client, currency="USD", kind=Account.Kind.FUNDING)
    twice = entry_post(
        client_id=tenant.client.pk, kind="adjustment",
        legs=[Leg(funding, -3), Leg(tenant.peer_usd, 1), Leg(tenant.peer_usd, 2)],
    )
    touching = JournalEntry.objects.filter(postings__account=tenant.peer_usd).distinct()
    expected = list(touching.order_by("-id").values_list("id", flat=True))
    assert twice.pk in expected and len(expected) == 7
    # when / then: both history routes agree, page after page
    for url in (f"/api/v1/transactions/?account={tenant.peer_usd.pk}&page_size=2",
                f"/api/v1/accounts/{tenant.peer_usd.pk}/transactions/?page_size=2"):
        ids, pages = _pages(api, url, tenant.auth)
        assert ids == expected
        assert pages == 4


def test_the_account_filter_still_combines_with_the_others(api, tenant):
    body = api.get(f"/api/v1/transactions/?account={tenant.usd.pk}&kind=deposit", **tenant.auth).json()
    assert [row["kind"] for row in body["results"]] == ["deposit"]
    other = api.get(f"/api/v1/transactions/?account={tenant.usd.pk}&user={tenant.peer.pk}", **tenant.auth).json()
    assert [row["id"] for row in other["results"]] == [tenant.transfer.pk]


def _plan_nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_a_deep_history_page_reads_the_postings_index_not_the_journal(requires_postgres, api, tenant):
    # given: 20,000 entries of which half touch the account, statistics fresh
    account, other = tenant.usd, tenant.peer_usd
    funding = system_account_get(client=tenant.client, currency="USD", kind=Account.Kind.FUNDING)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalentry (client_id, kind, reference, metadata, created_at) "
            "SELECT %s, 'transfer', '', '{}', now() FROM generate_series(1, 20000)",
            [tenant.client.pk],
        )
        # Each posting continues its account's sequence; running balances are not what this reads.
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount, sequence, balance_after, held_after, posted_at) "
            "SELECT legs.entry_id, legs.account_id, legs.amount, "
            "a.sequence + row_number() OVER (PARTITION BY legs.account_id ORDER BY legs.entry_id), 0, 0, now() "
            "FROM (SELECT e.id AS entry_id, CASE WHEN e.id %% 2 = 0 THEN %s ELSE %s END AS account_id, -1 AS amount "
            "FROM ledger_journalentry e "
            "WHERE e.client_id = %s AND NOT EXISTS (SELECT 1 FROM ledger_posting p WHERE p.entry_id = e.id) "
            "UNION ALL SELECT e.id, %s, 1 FROM ledger_journalentry e WHERE e.client_id = %s "
            "AND NOT EXISTS (SELECT 1 FROM ledger_posting p WHERE p.entry_id = e.id)) legs "
            "JOIN ledger_account a ON a.id = legs.account_id",
            [account.pk, other.pk, tenant.client.pk, funding.pk, tenant.client.pk],
        )
        cursor.execute("ANALYZE ledger_journalentry")
        cursor.execute("ANALYZE ledger_posting")
    positions = list(
        JournalEntry.objects.filter(postings__account=account).order_by("id").values_list("id", flat=True)[:200]
    )
    deep_cursor = positions[150]  # ~9,900 of the account's entries are newer
    cursor = quote(base64.b64encode(f"p={deep_cursor}".encode()).decode())
    with CaptureQueriesContext(connection) as captured:
        response = api.get(f"/api/v1/transactions/?account={account.pk}&cursor={cursor}", **tenant.auth)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == positions[150 - 50 : 150][::-1]
    # when: the page query the paginator sent, explained
    (sql,) = [query["sql"] for query in captured.captured_queries if "ledger_posting_account" not in query["sql"]
              and "ORDER BY" in query["sql"] and "history_position" in query["sql"]]
    # The cursor bounds the journal's id too: PostgreSQL does not carry the postings' bound across
    # the join, and on larger histories (≈ 100,000 entries) it plans a merge join that walks the
    # journal from the newest entry down to the cursor without it.
    assert f'"ledger_journalentry"."id" < {deep_cursor}' in sql
    with connection.cursor() as explain:
        explain.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        plan = explain.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes = list(_plan_nodes(plan[0]["Plan"]))
    # then: the account's postings come from the history index, from the cursor on, and no scan
    # reads more rows than the page needs (not the ~9,900 newer entries, of the journal either)
    history_scans = [node for node in nodes if node.get("Index Name") == "ledger_posting_account_entry"]
    assert history_scans, json.dumps(plan, indent=1)
    scans = [node for node in nodes if "Scan" in node["Node Type"]]
    assert all(node["Actual Rows"] * node.get("Actual Loops", 1) <= 200 for node in scans), json.dumps(plan, indent=1)
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in
                ("ledger_posting", "ledger_journalentry")], json.dumps(plan, indent=1)
