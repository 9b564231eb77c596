"""POST /api/v1/transfers/batch/: many transfers in one request, all or none or each on its own."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import NotFound, ValidationError

from accounts.callers import Caller, CallerKind
from ledger.api.serializers import TransferCreateSerializer, _transfer_request_plain, transfer_request_parse
from ledger.errors import AccountNotFoundError
from ledger.models import Account, JournalEntry
from ledger.selectors import transfer_accounts_get
from ledger.services import TransferRequest
from tests.fixtures import end_user_auth, ledger_snapshot

pytestmark = pytest.mark.django_db

URL = "/api/v1/transfers/batch/"


def item(source, destination, amount="1.00", **extra):
    return {"from_account": source.pk, "to_account": destination.pk, "amount": amount, **extra}


def balances(*accounts):
    return tuple(Account.objects.get(pk=account.pk).balance for account in accounts)


def post(api, tenant, transfers, *, atomic=True, key=None, auth=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(URL, {"transfers": transfers, "atomic": atomic}, format="json", **headers, **(auth or tenant.auth))


def test_an_all_or_none_batch_applies_every_transfer(api, tenant):
    # given: user USD 99.00, peer USD 1.00
    entries = JournalEntry.objects.count()
    # when
    response = post(api, tenant, [
        item(tenant.usd, tenant.peer_usd, "10.00", reference="r-1", metadata={"n": 1}),
        item(tenant.peer_usd, tenant.usd, "0.50"),
        item(tenant.usd, tenant.peer_usd, "0.25"),
    ])
    # then
    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [(row["index"], row["status"]) for row in results] == [(0, 201), (1, 201), (2, 201)]
    assert results[0]["transaction"]["amount"] == "10.00"
    assert results[0]["transaction"]["reference"] == "r-1" and results[0]["transaction"]["metadata"] == {"n": 1}
    assert balances(tenant.usd, tenant.peer_usd) == (99_00 - 10_00 + 50 - 25, 1_00 + 10_00 - 50 + 25)
    assert JournalEntry.objects.count() == entries + 3
    # each rendered as GET /transactions/{id}/ renders it
    detail = api.get(f"/api/v1/transactions/{results[1]['transaction']['id']}/", **tenant.auth).json()
    assert detail == results[1]["transaction"]


def test_an_all_or_none_batch_with_one_refused_transfer_changes_nothing(api, tenant):
    before = ledger_snapshot()
    response = post(api, tenant, [
        item(tenant.usd, tenant.peer_usd, "1.00"),
        item(tenant.usd, tenant.peer_usd, "1000.00"),  # more than the user has
        item(tenant.usd, tenant.usd, "1.00"),
    ])
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["errors"]["index"], body["errors"]["code"]) == (
        "batch_item_refused", 1, "insufficient_funds"
    )
    assert response["Content-Type"] == "application/problem+json"
    assert ledger_snapshot() == before


def test_an_all_or_none_batch_naming_another_clients_account_changes_nothing(api, tenant, other_tenant):
    before = ledger_snapshot()
    response = post(api, tenant, [item(tenant.usd, tenant.peer_usd), item(tenant.usd, other_tenant.usd)])
    assert response.status_code == 422
    assert (response.json()["errors"]["index"], response.json()["errors"]["status"]) == (1, 404)
    assert ledger_snapshot() == before


def test_a_batch_of_independent_transfers_applies_each_that_it_can(api, tenant, other_tenant):
    # given
    entries = JournalEntry.objects.count()
    usd_before, peer_before = balances(tenant.usd, tenant.peer_usd)
    # when
    response = post(api, tenant, [
        item(tenant.usd, tenant.peer_usd, "2.00"),
        item(tenant.usd, tenant.peer_usd, "1000.00"),  # insufficient funds
        item(tenant.usd, other_tenant.usd, "1.00"),  # another client's: not found
        item(tenant.usd, tenant.peer_usd, "1.001"),  # more places than USD has
        item(tenant.usd, tenant.btc, "1.00"),  # another currency
        {"to_account": tenant.peer_usd.pk, "amount": "1"},  # no sender
        item(tenant.peer_usd, tenant.usd, "0.30"),
    ], atomic=False)
    # then
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [row["status"] for row in results] == [201, 422, 404, 400, 422, 400, 201]
    assert [row["error"]["code"] for row in results if "error" in row] == [
        "insufficient_funds", "account_not_found", "invalid_amount", "currency_mismatch", "validation_error"
    ]
    assert all(("transaction" in row) == (row["status"] == 201) for row in results)
    assert balances(tenant.usd, tenant.peer_usd) == (usd_before - 2_00 + 30, peer_before + 2_00 - 30)
    assert JournalEntry.objects.count() == entries + 2


def test_batches_are_limited_in_size(api, tenant, settings):
    settings.TRANSFER_BATCH_MAX_ITEMS = 2
    before = ledger_snapshot()
    too_many = post(api, tenant, [item(tenant.usd, tenant.peer_usd)] * 3)
    empty = post(api, tenant, [])
    not_a_list = api.post(URL, {"transfers": {"a": 1}}, format="json", **tenant.auth)
    assert (too_many.status_code, empty.status_code, not_a_list.status_code) == (400, 400, 400)
    assert too_many.json()["errors"]["transfers"]
    assert ledger_snapshot() == before
    assert post(api, tenant, [item(tenant.usd, tenant.peer_usd)] * 2).status_code == 201


def test_a_batch_is_idempotent_as_a_whole(api, tenant):
    transfers = [item(tenant.usd, tenant.peer_usd, "1.00"), item(tenant.usd, tenant.peer_usd, "2.00")]
    first = post(api, tenant, transfers, atomic=False, key="batch-1")
    after_first = ledger_snapshot()
    retry = post(api, tenant, transfers, atomic=False, key="batch-1")
    assert first.status_code == retry.status_code == 207
    assert retry.content == first.content and retry["Idempotent-Replayed"] == "true"
    assert ledger_snapshot() == after_first
    other = post(api, tenant, transfers[:1], atomic=False, key="batch-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert ledger_snapshot() == after_first


def test_a_refused_all_or_none_batch_is_replayed_as_refused(api, tenant):
    transfers = [item(tenant.usd, tenant.peer_usd, "1000.00")]
    first = post(api, tenant, transfers, key="batch-2")
    retry = post(api, tenant, transfers, key="batch-2")
    assert first.status_code == retry.status_code == 422
    assert retry["Idempotent-Replayed"] == "true" and retry.content == first.content


def test_an_end_user_batches_from_its_own_accounts_only(api, tenant):
    auth = end_user_auth(tenant.user)
    own = post(api, tenant, [item(tenant.usd, tenant.peer_usd, "1.00")], auth=auth)
    assert own.status_code == 201
    before = ledger_snapshot()
    peers = post(api, tenant, [item(tenant.usd, tenant.peer_usd), item(tenant.peer_usd, tenant.usd)], auth=auth)
    assert peers.status_code == 422 and peers.json()["errors"] == {
        "index": 1, "code": "account_not_found", "status": 404, "detail": "Account not found."
    }
    assert ledger_snapshot() == before
    mixed = post(api, tenant, [item(tenant.peer_usd, tenant.usd)], atomic=False, auth=auth)
    assert mixed.status_code == 207 and mixed.json()["results"][0]["status"] == 404
    assert ledger_snapshot() == before


def test_an_unauthenticated_batch_is_401_and_changes_nothing(api, tenant):
    before = ledger_snapshot()
    response = api.post(URL, {"transfers": [item(tenant.usd, tenant.peer_usd)]}, format="json")
    assert response.status_code == 401
    assert ledger_snapshot() == before


def test_a_batch_loads_its_accounts_once_and_takes_its_locks_in_one_statement(api, tenant):
    transfers = [item(tenant.usd, tenant.peer_usd, "0.01")] * 10
    with CaptureQueriesContext(connection) as captured:
        response = post(api, tenant, transfers)
    assert response.status_code == 201
    account_reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "ledger_account"')]
    assert len(account_reads) == 2, account_reads  # the accounts of every item, then the locks


def _item_shapes(tenant) -> list:
    """Transfers of every shape, plainly valid or not."""
    usd, peer, btc = tenant.usd.pk, tenant.peer_usd.pk, tenant.btc.pk
    items = [
        {"from_account": usd, "to_account": peer, "amount": "1.00"},
        {"from_account": str(usd), "to_account": peer, "amount": 1, "reference": "  r-1 ", "metadata": {"n": 1}},
        {"from_account": usd, "to_account": peer, "amount": "0.001"},
        {"from_account": usd, "to_account": peer, "amount": "-1"},
        {"from_account": usd, "to_account": peer, "amount": True},
        {"from_account": usd, "to_account": peer, "amount": None},
        {"from_account": usd, "to_account": peer},
        {"from_account": usd, "to_account": 10**12, "amount": "1.00"},
        {"from_account": 0, "to_account": peer, "amount": "1.00"},
        {"from_account": "x", "to_account": None, "amount": "1.00"},
        {"from_account": usd, "to_account": btc, "amount": "1.00"},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "reference": "x" * 201},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "reference": " " + "x" * 200 + " "},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "reference": None},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "reference": 12},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "reference": "a\x00b"},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "reference": "café"},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "metadata": [1]},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "metadata": None},
        {"from_account": usd, "to_account": peer, "amount": "1.00", "unknown": 1},
    ]
    return items


def test_batch_items_validate_exactly_as_the_transfer_serializer_validates_them(tenant):
    # given: items of every shape, plainly valid or not
    items = _item_shapes(tenant)
    usd, peer, btc = tenant.usd.pk, tenant.peer_usd.pk, tenant.btc.pk
    caller = Caller(kind=CallerKind.API_KEY, client_id=tenant.client.pk, api_key_id=tenant.api_key.pk)
    context = {"request": SimpleNamespace(auth=caller),
               "accounts": transfer_accounts_get(caller=caller, ids=[usd, peer, btc])}

    def comparable(outcome):
        if isinstance(outcome, Exception):
            return (type(outcome), outcome.code, str(outcome.detail), getattr(outcome, "errors", None))
        return outcome

    # when / then: what the plain path answers is what the serializer answers; it leaves the
    # rest (None) to the serializer
    for item in items:
        plain = _transfer_request_plain(item, context)
        if plain is None:
            continue
        serializer = TransferCreateSerializer(data=item, context=context)
        try:
            expected = TransferRequest(**serializer.validated_data) if serializer.is_valid() else None
        except NotFound:
            expected = AccountNotFoundError("Account not found.")
        assert comparable(plain) == comparable(expected), item
    assert sum(_transfer_request_plain(item, context) is not None for item in items) >= 5


def test_a_single_transfer_validates_exactly_as_the_transfer_serializer_validates_it(tenant):
    # given: bodies of every shape, and the serializer's verdict on each
    caller = Caller(kind=CallerKind.API_KEY, client_id=tenant.client.pk, api_key_id=tenant.api_key.pk)
    context = {"request": SimpleNamespace(auth=caller)}

    def outcome(parse):
        try:
            return parse()
        except (ValidationError, NotFound) as error:
            return (type(error), error.detail)

    def by_serializer(item):
        serializer = TransferCreateSerializer(data=item, context=context)
        serializer.is_valid(raise_exception=True)
        return TransferRequest(**serializer.validated_data)

    for item in _item_shapes(tenant):
        # when / then: the same request, or the same error in the same words
        parsed = outcome(lambda item=item: transfer_request_parse(item, context=context))
        assert parsed == outcome(lambda item=item: by_serializer(item)), item
