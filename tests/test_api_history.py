"""History over the API: balance_after on postings, balances as of an instant, statements (JSON
pages and streamed CSV), the trial balance."""

import csv
import io
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import roles
from ledger.models import Posting
from ledger.services import deposit_create, hold_create, withdrawal_create
from tests.factories import EndUserFactory, open_account
from tests.fixtures import end_user_auth, ledger_snapshot
from tests.test_api_users import staff_auth

pytestmark = pytest.mark.django_db


def iso(instant) -> str:
    return quote(instant.isoformat())


def posted_at(account, sequence):
    return Posting.objects.get(account=account, sequence=sequence).posted_at


def test_a_transfer_reply_shows_each_caller_only_the_balances_it_may_see(api, tenant):
    body = {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": "2.00"}
    # when: the client sends, then the end user sends
    by_client = api.post("/api/v1/transfers/", body, format="json", **tenant.auth).json()
    by_user = api.post("/api/v1/transfers/", body, format="json", **end_user_auth(tenant.user)).json()
    # then: the client sees both of its users' balances, the end user only its own
    assert [(p["account"], p["balance_after"]) for p in by_client["postings"]] == [
        (tenant.usd.pk, "97.00"), (tenant.peer_usd.pk, "3.00"),
    ]
    assert [(p["account"], p["sequence"], p["balance_after"]) for p in by_user["postings"]] == [
        (tenant.usd.pk, 4, "95.00"), (tenant.peer_usd.pk, None, None),
    ]
    # and the recipient reading it sees its own, not the sender's
    as_peer = api.get(f"/api/v1/transfers/{by_user['id']}/", **end_user_auth(tenant.peer)).json()
    assert [(p["sequence"], p["balance_after"]) for p in as_peer["postings"]] == [(None, None), (3, "5.00")]


def test_a_deposit_hides_the_system_accounts_balance_from_the_client(api, tenant):
    response = api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "1.00"}, format="json", **tenant.auth)
    postings = {p["account_kind"]: p["balance_after"] for p in response.json()["postings"]}
    assert postings == {"funding": None, "user": "100.00"}


def test_balance_now_and_as_of_instants_around_each_posting(api, tenant):
    deposited, transferred = posted_at(tenant.usd, 1), posted_at(tenant.usd, 2)
    path = f"/api/v1/accounts/{tenant.usd.pk}/balance/"

    def balance_at(instant):
        response = api.get(f"{path}?as_of={iso(instant)}", **tenant.auth)
        assert response.status_code == 200, response.content
        return response.json()["balance"]

    now = api.get(path, **tenant.auth).json()
    assert now | {"as_of": ""} == {
        "account": tenant.usd.pk, "currency": "USD", "as_of": "", "balance": "99.00", "available": "99.00"
    }
    assert balance_at(deposited - timedelta(microseconds=1)) == "0.00"  # before the first posting
    assert balance_at(deposited) == "100.00"  # an instant includes what was posted at it
    assert balance_at(transferred - timedelta(microseconds=1)) == "100.00"
    assert balance_at(transferred) == "99.00"
    assert balance_at(timezone.now() + timedelta(days=365)) == "99.00"  # the future: the balance now


def test_available_as_of_subtracts_only_the_holds_active_then(api, tenant):
    # given: the tenant's resting sell order holds 0.01 BTC since after the BTC deposit
    path = f"/api/v1/accounts/{tenant.btc.pk}/balance/"
    hold = tenant.btc.holds.get()
    before_hold = hold.created_at - timedelta(microseconds=1)
    # when
    then = api.get(f"{path}?as_of={iso(before_hold)}", **tenant.auth).json()
    now = api.get(path, **tenant.auth).json()
    # then
    assert (then["balance"], then["available"]) == ("1.00000000", "1.00000000")
    assert (now["balance"], now["available"]) == ("1.00000000", "0.99000000")


def test_user_balances_as_of_an_instant_cover_every_currency(api, tenant):
    before_transfer = posted_at(tenant.usd, 2) - timedelta(microseconds=1)
    response = api.get(f"/api/v1/users/{tenant.user.pk}/balances/?as_of={iso(before_transfer)}", **tenant.auth)
    body = response.json()
    assert response.status_code == 200
    assert body["as_of"]
    assert body["balances"] == [
        {"currency": "BTC", "balance": "1.00000000", "available": "1.00000000"},
        {"currency": "USD", "balance": "100.00", "available": "100.00"},
    ]
    narrowed = api.get(
        f"/api/v1/users/{tenant.user.pk}/balances/?currency=USD&as_of={iso(before_transfer)}", **tenant.auth
    ).json()
    assert narrowed["balances"] == [{"currency": "USD", "balance": "100.00", "available": "100.00"}]


@pytest.mark.parametrize(
    "value, message",
    [
        ("2026-01-31T23:59:59", "no timezone"),
        ("2026-01-31", "no timezone"),
        ("yesterday", "ISO 8601"),
        ("2026-13-01T00:00:00Z", "ISO 8601"),
        ("0001-01-01T00:00:00+01:00", "ISO 8601"),  # before year 1 in UTC
        ("9999-12-31T23:59:59-01:00", "ISO 8601"),  # after year 9999 in UTC
    ],
)
def test_an_as_of_without_timezone_or_unreadable_is_400_with_a_clear_message(api, tenant, value, message):
    before = ledger_snapshot()
    for path in (f"/api/v1/accounts/{tenant.usd.pk}/balance/", f"/api/v1/users/{tenant.user.pk}/balances/"):
        response = api.get(f"{path}?as_of={quote(value)}", **tenant.auth)
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert message in response.json()["errors"]["as_of"][0]
    assert ledger_snapshot() == before


def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_plus(api, tenant):
    response = api.get(f"/api/v1/accounts/{tenant.usd.pk}/balance/?as_of=2020-01-01T10:00:00 02:00", **tenant.auth)
    assert response.status_code == 200
    assert response.json()["as_of"] == "2020-01-01T08:00:00Z"


@pytest.fixture
def busy_account(tenant):
    """tenant.usd with 12 more postings after its first two: deposits of 1..6 and withdrawals."""
    for amount in range(1, 7):
        deposit_create(account=tenant.usd, amount=amount * 100, reference=f"dep-{amount}")
        withdrawal_create(account=tenant.usd, amount=50, reference=f"=cmd-{amount}" if amount == 3 else "")
    tenant.usd.refresh_from_db()
    return tenant.usd


def statement(api, tenant, account, *, start, end=None, extra="", **headers):
    query = f"from={iso(start)}" + (f"&to={iso(end)}" if end else "") + extra
    return api.get(f"/api/v1/accounts/{account.pk}/statement/?{query}", **tenant.auth, **headers)


def test_a_statement_opens_and_closes_on_the_running_balances(api, tenant, busy_account):
    # given: the period from the third posting (the first deposit of 1.00) to just before the 13th
    start, end = posted_at(busy_account, 3), posted_at(busy_account, 13)
    # when
    body = statement(api, tenant, busy_account, start=start, end=end).json()
    # then
    assert body["account"] == busy_account.pk and body["currency"] == "USD"
    assert (body["opening_balance"], body["closing_balance"]) == ("99.00", "111.50")
    assert (body["total_credits"], body["total_debits"]) == ("15.00", "2.50")  # 1+2+3+4+5 in, 5 x 0.50 out
    assert [row["sequence"] for row in body["entries"]] == list(range(3, 13))
    assert body["entries"][0] | {"posted_at": "", "entry": 0} == {
        "sequence": 3, "posted_at": "", "entry": 0, "kind": "deposit", "reference": "dep-1", "amount": "1.00",
        "balance_after": "100.00",
    }
    assert body["entries"][-1]["balance_after"] == body["closing_balance"]
    assert body["next"] is None


def test_statement_pages_follow_the_sequence_and_cost_the_same_at_any_depth(api, tenant, busy_account):
    start = posted_at(busy_account, 1)
    with CaptureQueriesContext(connection) as first_queries:
        first = statement(api, tenant, busy_account, start=start, extra="&page_size=3").json()
    seen = [row["sequence"] for row in first["entries"]]
    next_link = first["next"]
    while next_link:
        with CaptureQueriesContext(connection) as page_queries:
            page = api.get(next_link, **tenant.auth).json()
        seen += [row["sequence"] for row in page["entries"]]
        next_link = page["next"]
    assert seen == list(range(1, 15))
    # every page: the same ledger queries, the page itself a keyset probe (sequence > cursor), no OFFSET
    def ledger_queries(captured):
        return [query["sql"] for query in captured if "ledger_posting" in query["sql"]]

    assert len(ledger_queries(page_queries)) == len(ledger_queries(first_queries)) == 4
    assert '"sequence" > 12' in ledger_queries(page_queries)[-1]
    assert "OFFSET" not in ledger_queries(page_queries)[-1].upper()
    assert page["opening_balance"] == first["opening_balance"]


def test_statement_csv_streams_the_same_entries_as_the_json(api, tenant, busy_account):
    start = posted_at(busy_account, 1)
    pages, link = [], None
    body = statement(api, tenant, busy_account, start=start, extra="&page_size=5").json()
    pages += body["entries"]
    link = body["next"]
    while link:
        body = api.get(link, **tenant.auth).json()
        pages += body["entries"]
        link = body["next"]
    # when: as ?format=csv and as Accept: text/csv
    by_format = statement(api, tenant, busy_account, start=start, extra="&format=csv")
    by_accept = statement(api, tenant, busy_account, start=start, HTTP_ACCEPT="text/csv")
    # then
    assert by_format.status_code == 200 and by_format.streaming
    assert by_format["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in by_format["Content-Disposition"]
    text = b"".join(by_format.streaming_content).decode()
    assert text == b"".join(by_accept.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = [{key: str(value) for key, value in row.items()} for row in pages]
    # a reference that a spreadsheet would run as a formula is neutralised
    for row in expected:
        if row["reference"].startswith("="):
            row["reference"] = "'" + row["reference"]
    assert rows == expected
    assert next(csv.reader(io.StringIO(text))) == [
        "sequence", "posted_at", "entry", "kind", "reference", "amount", "balance_after"
    ]


def test_a_statement_before_any_posting_or_in_the_future_is_empty(api, tenant, busy_account):
    long_ago = posted_at(busy_account, 1) - timedelta(days=30)
    early = statement(api, tenant, busy_account, start=long_ago, end=long_ago + timedelta(days=1)).json()
    future = statement(
        api, tenant, busy_account, start=timezone.now() + timedelta(days=1), end=timezone.now() + timedelta(days=2)
    ).json()
    assert (early["opening_balance"], early["closing_balance"], early["entries"]) == ("0.00", "0.00", [])
    assert (early["total_credits"], early["total_debits"]) == ("0.00", "0.00")
    assert (future["opening_balance"], future["closing_balance"]) == ("117.00", "117.00")
    assert future["entries"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("from=2026-01-01T00:00:00&to=2026-02-01T00:00:00Z", "from"),
        ("from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00", "to"),
        ("to=2026-02-01T00:00:00Z", "from"),
    ],
)
def test_a_bad_statement_period_is_400(api, tenant, query, field):
    before = ledger_snapshot()
    for suffix in ("", "&format=csv"):
        response = api.get(f"/api/v1/accounts/{tenant.usd.pk}/statement/?{quote(query, safe='=&')}{suffix}",
                           **tenant.auth)
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert field in response.json()["errors"]
    assert ledger_snapshot() == before


def test_an_end_user_reads_its_own_statement_and_balance_but_not_the_peers(api, tenant):
    auth = end_user_auth(tenant.user)
    start = iso(posted_at(tenant.usd, 1))
    own = api.get(f"/api/v1/accounts/{tenant.usd.pk}/statement/?from={start}", **auth)
    peers = api.get(f"/api/v1/accounts/{tenant.peer_usd.pk}/statement/?from={start}", **auth)
    peers_csv = api.get(f"/api/v1/accounts/{tenant.peer_usd.pk}/statement/?from={start}&format=csv", **auth)
    peers_balance = api.get(f"/api/v1/accounts/{tenant.peer_usd.pk}/balance/", **auth)
    assert own.status_code == 200
    assert (peers.status_code, peers_csv.status_code, peers_balance.status_code) == (404, 404, 404)


def test_the_trial_balance_sums_to_zero_per_client_and_currency(api, tenant, other_tenant):
    hold_create(account=tenant.usd, amount=1)  # holds do not move balances
    auth = staff_auth(api, role=roles.READ_ONLY)
    # when
    everything = api.get("/api/v1/trial-balance/", **auth)
    one = api.get(f"/api/v1/trial-balance/?client={tenant.client.pk}", **auth).json()
    # then
    assert everything.status_code == 200
    assert {line["client"] for line in everything.json()} == {tenant.client.pk, other_tenant.client.pk}
    assert {line["client"] for line in one} == {tenant.client.pk}
    usd = next(line for line in one if line["currency"] == "USD")
    assert usd == {
        "client": tenant.client.pk, "client_name": tenant.client.name, "currency": "USD", "funding": "-100.00",
        "fee_revenue": "0.00", "inventory": "0.00", "other_system": "0.00", "users": "100.00", "total": "0.00",
    }
    assert all(line["total"].strip("0.") == "" for line in everything.json())


def test_only_platform_staff_read_the_trial_balance(api, tenant):
    assert api.get("/api/v1/trial-balance/", **tenant.auth).status_code == 403
    assert api.get("/api/v1/trial-balance/", **end_user_auth(tenant.user)).status_code == 403
    assert api.get("/api/v1/trial-balance/").status_code == 401


def test_statement_totals_beyond_64_bits_are_exact(api, db):
    from accounts.services import api_key_create
    from ledger.money import MAX_MINOR_UNITS
    from tests.factories import ClientFactory

    # given: a new client's user gets the largest deposit twice, withdrawn in between
    api_key, key = api_key_create(client=ClientFactory(), name="test")
    account = open_account(EndUserFactory(client=api_key.client), "USD")
    deposit_create(account=account, amount=MAX_MINOR_UNITS)
    withdrawal_create(account=account, amount=MAX_MINOR_UNITS)
    deposit_create(account=account, amount=MAX_MINOR_UNITS)
    # when
    response = api.get(
        f"/api/v1/accounts/{account.pk}/statement/?from={iso(posted_at(account, 1))}",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    # then: credits total 2 x (2**63 - 1), beyond what SQLite's SUM holds
    body = response.json()
    maximum = "92233720368547758.07"
    assert (body["opening_balance"], body["closing_balance"]) == ("0.00", maximum)
    assert body["total_credits"] == "184467440737095516.14"
    assert body["total_debits"] == maximum
