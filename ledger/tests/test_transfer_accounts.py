"""`transfer_accounts_get` answers as `account_destination_list` does, compiled or not."""

import pytest

from accounts.callers import Caller, CallerKind
from ledger.selectors import account_destination_list, transfer_accounts_get
from tests.factories import EndUserFactory, open_account
from tests.fixtures import make_tenant

pytestmark = pytest.mark.django_db


def _compared(accounts: dict) -> dict:
    return {pk: (account.user.pk, account.currency.code, account.currency.scale, account.balance, account.is_active)
            for pk, account in accounts.items()}


def test_transfer_accounts_are_the_destination_accounts_for_every_kind_of_caller():
    # given: two tenants, and an account that is a system account (never a transfer's)
    mine, theirs = make_tenant(), make_tenant()
    extra = open_account(EndUserFactory(client=mine.client), "USD")
    callers = [
        Caller(kind=CallerKind.API_KEY, client_id=mine.client.pk, api_key_id=mine.api_key.pk),
        Caller.for_person(mine.user),
        Caller(kind=CallerKind.PLATFORM_STAFF, client_id=None),
        Caller(kind=CallerKind.PLATFORM_STAFF, client_id=theirs.client.pk),
    ]
    id_sets = [
        [mine.usd.pk], [mine.usd.pk, mine.usd.pk], [mine.usd.pk, theirs.usd.pk], [extra.pk, mine.peer_usd.pk],
        [theirs.btc.pk], [mine.usd.pk, mine.btc.pk, extra.pk], [10**12], [],
    ]
    for caller in callers:
        for ids in id_sets:
            # when / then
            expected = account_destination_list(caller=caller).in_bulk(set(ids))
            assert _compared(transfer_accounts_get(caller=caller, ids=ids)) == _compared(expected), (caller, ids)
