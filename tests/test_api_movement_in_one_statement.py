"""A transfer or deposit through the API on PostgreSQL is one statement in autocommit
(`ledger.services.posting_request`): its account rows are locked for that statement's round trip
only. What the statement writes must be exactly what the transaction path writes: the reply it
stores is the reply sent, the event is the entry as the renderer shows it, compliance opens the
same review items; a refusal writes nothing and frees the key; and under concurrency money is
conserved and the ledger verifies."""

import html
import json
import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from events.models import Event
from ledger.api.serializers import transaction_render_posted
from ledger.models import Account, JournalEntry
from ledger.selectors import entry_for_rendering
from ledger.services import deposit_create, transfer_create
from ledger.verification import ledger_verify
from operations.models import ComplianceRule, MovementCount, ReviewItem
from tests.fixtures import ledger_snapshot, make_tenant

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

METADATA = {
    "note": "1234567890123 2026-11-22T06:29:38.123456Z", "digits": 10**15, "nested": {"list": [1, "a", None]},
    "unicode": "€ ✓ \u00e9", "quote": 'say "hi"\\',
}


def _transfer(api, tenant, key, *, amount="0.50", metadata=None, **extra):
    body = {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": amount}
    if metadata is not None:
        body["metadata"] = metadata
    return api.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key, **tenant.auth, **extra)


def _key_is_free(lock_id: int) -> bool:
    """Whether another connection can take the key's advisory lock (and gives it back)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
            (taken,) = cursor.fetchone()
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
        return taken
    finally:
        other.close()


def _lock_id(tenant, key: str) -> int:
    from core.api.idempotency import _lock_id

    return _lock_id(f"client:{tenant.client.pk}", key)


def test_a_transfer_is_one_statement_in_autocommit_after_two_reads(requires_postgres, settings):
    settings.COMPLIANCE_RULES_CACHE_SECONDS = 60  # as in production: the rules are not read per request
    tenant = make_tenant()
    api = APIClient()
    _transfer(api, tenant, "warm")
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql, connection.in_atomic_block, connection.get_autocommit()))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(record):
        response = _transfer(api, tenant, "measured")
    assert response.status_code == 201, response.content
    statements = [query["sql"] for query in captured.captured_queries]
    after_commit = [sql for sql in statements[3:] if sql.startswith('INSERT INTO "django_tasks_database_dbtaskresult"')]
    assert len(statements) == 3 + len(after_commit), "\n".join(statements)  # then the webhook's delivery task
    assert "pg_try_advisory_lock" in statements[0]
    assert statements[1].startswith('SELECT "ledger_account"')
    assert "ledger_entry_post_request" in statements[2]
    # The only statement that writes runs alone, in autocommit: it is its own transaction, so the
    # account rows it locks are released when it ends.
    assert [(in_atomic, autocommit) for sql, in_atomic, autocommit in seen if "entry_post" in sql] == [(False, True)]
    assert not any(word in sql.upper() for sql, _, _ in seen for word in ("SAVEPOINT", "BEGIN", "COMMIT"))


def test_the_stored_reply_and_the_event_are_what_the_transaction_path_renders(requires_postgres):
    tenant = make_tenant()
    api = APIClient()
    response = _transfer(api, tenant, "t-1", metadata=METADATA)
    assert response.status_code == 201, response.content
    record = IdempotencyRecord.objects.get(key="t-1")
    assert (record.status_code, record.response_body.encode()) == (201, response.content)
    entry_id = response.json()["id"]
    assert api.get(f"/api/v1/transactions/{entry_id}/", **tenant.auth).json() == response.json()
    event = Event.objects.get(type="transaction.created", data__id=entry_id)
    entry = entry_for_rendering(entry=JournalEntry.objects.get(pk=entry_id))
    assert event.data == transaction_render_posted(entry)
    assert event.data["postings"][0]["balance_after"] == "98.50"
    replay = _transfer(api, tenant, "t-1", metadata=METADATA)
    assert replay["Idempotent-Replayed"] == "true" and replay.content == response.content


def test_the_reply_as_stored_is_rendered_again_for_a_human_who_asks(requires_postgres):
    tenant = make_tenant()
    api = APIClient()
    indented = _transfer(api, tenant, "t-indent", HTTP_ACCEPT="application/json; indent=2")
    assert indented.status_code == 201, indented.content
    assert b"\n  " in indented.content
    assert indented.json() == json.loads(IdempotencyRecord.objects.get(key="t-indent").response_body)
    page = _transfer(api, tenant, "t-html", HTTP_ACCEPT="text/html")
    assert page.status_code == 201 and page["Content-Type"].startswith("text/html")
    stored = json.loads(IdempotencyRecord.objects.get(key="t-html").response_body)
    shown = html.unescape(re.sub(r"<[^>]+>", "", page.content.decode()))  # the page's text
    assert f'"id": {stored["id"]},' in shown and f'"reference": "{stored["reference"]}"' in shown


def test_the_entry_the_statement_posts_is_returned_as_the_database_holds_it(requires_postgres):
    from core.claims import OfferedClaim, claim_offered

    tenant = make_tenant()
    claim = OfferedClaim(
        scope="service-test", key="k-1", request_hash="h", lock_id=1, expires_at=timezone.now() + timedelta(hours=1),
        reply=lambda entry: (201, json.dumps({"id": entry.pk}), ""),
    )
    with claim_offered(claim):
        entry = transfer_create(from_account=tenant.usd, to_account=tenant.peer_usd, amount=150)
    assert claim.stored_reply == (201, json.dumps({"id": entry.pk}), "")
    stored = JournalEntry.objects.get(pk=entry.pk)
    assert (entry.created_at, entry.kind, entry.client_id) == (stored.created_at, stored.kind, stored.client_id)
    fields = ("id", "entry_id", "account_id", "amount", "sequence", "balance_after", "held_after", "posted_at")
    returned = [tuple(getattr(posting, field) for field in fields) for posting in entry.postings.all()]
    assert returned == list(stored.postings.order_by("id").values_list(*fields))
    assert all(posting.entry is entry for posting in entry.postings.all())


def test_a_deposit_stores_its_reply_and_event_as_a_btc_amount_renders(requires_postgres):
    tenant = make_tenant()
    api = APIClient()
    response = api.post(
        "/api/v1/deposits/", {"account": tenant.btc.pk, "amount": "0.00000001"}, format="json",
        HTTP_IDEMPOTENCY_KEY="d-1", **tenant.auth,
    )
    assert response.status_code == 201, response.content
    assert IdempotencyRecord.objects.get(key="d-1").response_body.encode() == response.content
    entry = entry_for_rendering(entry=JournalEntry.objects.get(pk=response.json()["id"]))
    assert Event.objects.get(type="transaction.created", data__id=entry.pk).data == transaction_render_posted(entry)
    assert response.json()["postings"][1]["balance_after"] == "1.00000001"


def test_a_refused_transfer_writes_nothing_stores_its_refusal_and_frees_the_key(requires_postgres):
    tenant = make_tenant()
    api = APIClient()
    before, counters, items = ledger_snapshot(), list(MovementCount.objects.values_list()), ReviewItem.objects.count()
    response = _transfer(api, tenant, "t-poor", amount="1000.00")
    assert response.status_code == 422 and response.json()["code"] == "insufficient_funds"
    assert ledger_snapshot() == before
    assert list(MovementCount.objects.values_list()) == counters and ReviewItem.objects.count() == items
    assert IdempotencyRecord.objects.get(key="t-poor").status_code == 422
    assert _key_is_free(_lock_id(tenant, "t-poor"))
    replay = _transfer(api, tenant, "t-poor", amount="1000.00")
    assert replay["Idempotent-Replayed"] == "true" and replay.content == response.content


def test_malformed_input_frees_the_key_and_a_corrected_retry_runs(requires_postgres):
    tenant = make_tenant()
    api = APIClient()
    before = ledger_snapshot()
    assert _transfer(api, tenant, "t-bad", amount="-1").status_code == 400
    assert ledger_snapshot() == before and not IdempotencyRecord.objects.filter(key="t-bad").exists()
    assert _key_is_free(_lock_id(tenant, "t-bad"))
    assert _transfer(api, tenant, "t-bad").status_code == 201


def test_an_expired_record_is_replaced_by_the_statement(requires_postgres):
    tenant = make_tenant()
    api = APIClient()
    assert _transfer(api, tenant, "t-old").status_code == 201
    IdempotencyRecord.objects.filter(key="t-old").update(expires_at=timezone.now() - timedelta(seconds=1))
    entries = JournalEntry.objects.count()
    again = _transfer(api, tenant, "t-old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert JournalEntry.objects.count() == entries + 1
    assert IdempotencyRecord.objects.get(key="t-old").expires_at > timezone.now()


def _review(items) -> list[tuple]:
    return sorted((item.rule.name, item.detail, item.entry.kind) for item in items)


def test_compliance_in_the_statement_opens_the_items_the_transaction_path_opens(requires_postgres, settings):
    # given: the seeded rules' place taken by a tight velocity rule and a low large-movement threshold
    # (each tenant's user has moved money 3 times already, its peer once)
    settings.COMPLIANCE_RULES_CACHE_SECONDS = 0
    through_api, through_services = make_tenant(), make_tenant()
    api = APIClient()
    ComplianceRule.objects.update(is_active=False)
    ComplianceRule.objects.create(name="velocity", kind="velocity", max_movements=4, window_minutes=60)
    ComplianceRule.objects.create(name="large", kind="large_movement", threshold_usd=50_00)
    ReviewItem.objects.filter(rule__isnull=False).delete()
    # when: the same movements, through the API (one statement) and through the services (a transaction)
    for number, amount in enumerate(["0.10", "60.00", "0.10", "0.10"]):
        assert _transfer(api, through_api, f"v-{number}", amount=amount).status_code == 201
        transfer_create(from_account=through_services.usd, to_account=through_services.peer_usd,
                        amount=int(amount.replace(".", "")))
    deposit = api.post("/api/v1/deposits/", {"account": through_api.peer_usd.pk, "amount": "70.00"},
                       format="json", HTTP_IDEMPOTENCY_KEY="v-d", **through_api.auth)
    assert deposit.status_code == 201
    deposit_create(account=through_services.peer_usd, amount=70_00)
    # then: the same items, each user's velocity reported once
    opened = ReviewItem.objects.filter(rule__isnull=False).select_related("rule", "entry")
    by_api = _review(item for item in opened if item.client_id == through_api.client.pk)
    by_services = _review(item for item in opened if item.client_id == through_services.client.pk)
    assert by_api == by_services
    assert [rule for rule, _, _ in by_api].count("velocity") == 2  # the sender and the recipient
    assert [rule for rule, _, _ in by_api].count("large") == 3  # both legs of the 60.00 transfer, the deposit


def test_concurrent_api_transfers_on_two_hot_accounts_conserve_money(requires_postgres):
    tenant = make_tenant()
    accounts = [tenant.usd.pk, tenant.peer_usd.pk]
    total = Account.objects.filter(pk__in=accounts).aggregate(total=Sum("balance"))["total"]
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        api = APIClient()
        try:
            for number in range(15):
                source, target = accounts if (worker + number) % 2 else accounts[::-1]
                response = api.post(
                    "/api/v1/transfers/", {"from_account": source, "to_account": target, "amount": "7.00"},
                    format="json", HTTP_IDEMPOTENCY_KEY=f"c-{worker}-{number}", **tenant.auth,
                )
                statuses.append(response.status_code)
        except BaseException as error:  # noqa: BLE001  # reported by the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert set(statuses) <= {201, 422} and statuses.count(201) > 0 and len(statuses) == 120
    assert Account.objects.filter(pk__in=accounts).aggregate(total=Sum("balance"))["total"] == total
    assert not Account.objects.filter(pk__in=accounts, balance__lt=0).exists()
    assert JournalEntry.objects.filter(kind="transfer", client=tenant.client).count() == 1 + statuses.count(201)
    assert IdempotencyRecord.objects.filter(key__startswith="c-").count() == 120
    assert ledger_verify(record=False).is_ok


def test_concurrent_retries_of_the_same_keys_post_each_transfer_once(requires_postgres, settings):
    settings.IDEMPOTENCY_WAIT_MS = 5_000
    tenant = make_tenant()
    entries = JournalEntry.objects.filter(client=tenant.client).count()
    replies: dict[str, list] = {f"r-{number}": [] for number in range(10)}
    errors: list[BaseException] = []

    def run() -> None:
        api = APIClient()
        try:
            for key in replies:
                response = _transfer(api, tenant, key, amount="0.25")
                replies[key].append((response.status_code, response.content, response.get("Idempotent-Replayed")))
        except BaseException as error:  # noqa: BLE001  # reported by the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert JournalEntry.objects.filter(client=tenant.client).count() == entries + len(replies)
    for key, answers in replies.items():
        created = [content for status, content, replayed in answers if status == 201]
        assert {status for status, _, _ in answers} <= {201, 409}, key
        assert len(created) >= 1 and len(set(created)) == 1, key  # every 201 is the same transaction
        assert sum(1 for status, _, replayed in answers if status == 201 and replayed is None) == 1, key
        assert _key_is_free(_lock_id(tenant, key))
    assert ledger_verify(record=False).is_ok
