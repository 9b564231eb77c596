"""The selectors compiled once per process answer as their querysets do, for every kind of caller."""

import pytest

from accounts.callers import Caller, CallerKind, caller_rebuilt, caller_shape
from ledger.models import Currency
from ledger.selectors import (
    _balance_rows,
    account_destination_list,
    account_find,
    account_list,
    balance_list,
    transfer_accounts_get,
)
from tests.factories import EndUserFactory, open_account
from tests.fixtures import make_tenant

pytestmark = pytest.mark.django_db


def _compared(accounts: dict) -> dict:
    return {pk: (account.user.pk, account.currency.code, account.currency.scale, account.balance, account.is_active)
            for pk, account in accounts.items()}


def _callers(mine, theirs) -> list[Caller]:
    return [
        Caller(kind=CallerKind.API_KEY, client_id=mine.client.pk, api_key_id=mine.api_key.pk),
        Caller.for_person(mine.user),
        Caller(kind=CallerKind.PLATFORM_STAFF, client_id=None),
        Caller(kind=CallerKind.PLATFORM_STAFF, client_id=theirs.client.pk),
    ]


def test_a_caller_rebuilt_from_its_shape_scopes_as_the_caller_does():
    mine, theirs = make_tenant(), make_tenant()
    for caller in _callers(mine, theirs):
        shape, values = caller_shape(caller)
        rebuilt = caller_rebuilt(shape, **values)
        assert (rebuilt.kind, rebuilt.client_id) == (caller.kind, caller.client_id)
        if caller.is_end_user:
            assert rebuilt.end_user_id == caller.end_user_id


def test_user_balances_are_what_their_queryset_gives_for_every_caller_and_currency():
    mine, theirs = make_tenant(), make_tenant()
    currencies = [None, *Currency.objects.filter(code__in=["USD", "BTC", "ETH"])]
    for caller in _callers(mine, theirs):
        shape, values = caller_shape(caller)
        for user_id in (mine.user.pk, mine.peer.pk, theirs.user.pk, 10**12):
            for currency in currencies:
                narrowed = (currency.code, currency.scale) if currency is not None else None
                rows = list(_balance_rows((shape, narrowed), user_id=user_id, **values))
                listed = balance_list(caller=caller, user_id=user_id, currency=currency)
                expected = None if not rows else [
                    (code, scale, balance, balance - held) for code, scale, balance, held in rows if code is not None
                ] or [(currency.code, currency.scale, 0, 0)]
                got = listed and [
                    (item["currency"].code, item["currency"].scale, item["balance"], item["available"])
                    for item in listed
                ]
                assert got == expected, (caller, user_id, currency)


def test_transfer_accounts_are_the_destination_accounts_for_every_kind_of_caller():
    # given: two tenants, and an account that is a system account (never a transfer's)
    mine, theirs = make_tenant(), make_tenant()
    extra = open_account(EndUserFactory(client=mine.client), "USD")
    callers = _callers(mine, theirs)
    id_sets = [
        [mine.usd.pk], [mine.usd.pk, mine.usd.pk], [mine.usd.pk, theirs.usd.pk], [extra.pk, mine.peer_usd.pk],
        [theirs.btc.pk], [mine.usd.pk, mine.btc.pk, extra.pk], [10**12], [],
    ]
    for caller in callers:
        for ids in id_sets:
            # when / then
            expected = account_destination_list(caller=caller).in_bulk(set(ids))
            assert _compared(transfer_accounts_get(caller=caller, ids=ids)) == _compared(expected), (caller, ids)


def test_an_account_is_found_when_the_caller_may_see_it():
    mine, theirs = make_tenant(), make_tenant()
    candidates = [mine.usd, mine.btc, mine.peer_usd, theirs.usd, theirs.btc]
    for caller in _callers(mine, theirs):
        visible = set(account_list(caller=caller).values_list("pk", flat=True))
        for account in candidates:
            found = account_find(caller=caller, account_id=account.pk)
            assert (found is not None) == (account.pk in visible), (caller, account)
            if found is not None:
                expected = (account.pk, account.user_id, account.currency.scale)
                assert (found.pk, found.user.pk, found.currency.scale) == expected
        assert account_find(caller=caller, account_id=10**12) is None
