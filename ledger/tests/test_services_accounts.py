"""Opening accounts, system accounts, currencies and currency authorizations."""

import pytest

from ledger.errors import AlreadyExistsError, InactiveAccountError, UnknownCurrencyError
from ledger.models import Account, Currency, CurrencyAuthorization
from ledger.selectors import currency_get, user_is_authorized
from ledger.services import (
    account_create,
    currency_authorization_grant,
    currency_authorization_revoke,
    system_account_get,
)
from tests.factories import ClientFactory, ClientStaffFactory, EndUserFactory, PlatformStaffFactory


def test_account_create_opens_an_empty_user_account(alice, btc):
    account = account_create(user=alice, currency=btc)

    account.refresh_from_db()
    assert (account.client_id, account.user_id, account.currency_id) == (alice.client_id, alice.pk, "BTC")
    assert (account.kind, account.balance, account.held, account.allows_negative) == ("user", 0, 0, False)
    assert account.is_active


def test_a_second_account_in_the_same_currency_is_refused(alice, btc):
    account_create(user=alice, currency=btc)

    with pytest.raises(AlreadyExistsError) as caught:
        account_create(user=alice, currency=btc)

    assert caught.value.code == "already_exists"
    assert Account.objects.filter(user=alice).count() == 1


def test_accounts_in_different_currencies_may_coexist(alice, btc):
    account_create(user=alice, currency=btc)
    account_create(user=alice, currency=Currency.objects.get(code="USD"))

    assert Account.objects.filter(user=alice).count() == 2


@pytest.mark.parametrize("who", ["inactive end user", "client staff", "platform staff"])
def test_accounts_open_only_for_active_end_users(db, btc, who):
    if who == "inactive end user":
        user = EndUserFactory(is_active=False)
    elif who == "client staff":
        user = ClientStaffFactory()
    else:
        user = PlatformStaffFactory()

    with pytest.raises(InactiveAccountError) as caught:
        account_create(user=user, currency=btc)

    assert caught.value.code == "inactive_account"
    assert not Account.objects.exists()


def test_system_account_is_created_once_and_then_reused(client_tenant, btc):
    first = system_account_get(client=client_tenant, currency=btc, kind=Account.Kind.FUNDING)
    again = system_account_get(client=client_tenant.pk, currency="BTC", kind=Account.Kind.FUNDING)

    assert first.pk == again.pk
    assert Account.objects.filter(client=client_tenant, user=None).count() == 1
    assert (first.user_id, first.kind, first.balance) == (None, "funding", 0)


@pytest.mark.parametrize(
    ("kind", "allows_negative"),
    [(Account.Kind.FUNDING, True), (Account.Kind.INVENTORY, True), (Account.Kind.FEE_REVENUE, False)],
)
def test_only_funding_and_inventory_may_go_negative(client_tenant, kind, allows_negative):
    account = system_account_get(client=client_tenant, currency="USD", kind=kind)

    assert account.allows_negative is allows_negative


def test_system_accounts_are_per_client_currency_and_kind(client_tenant):
    other_client = ClientFactory()
    accounts = {
        system_account_get(client=client_tenant, currency="USD", kind=Account.Kind.FUNDING).pk,
        system_account_get(client=client_tenant, currency="BTC", kind=Account.Kind.FUNDING).pk,
        system_account_get(client=client_tenant, currency="USD", kind=Account.Kind.FEE_REVENUE).pk,
        system_account_get(client=other_client, currency="USD", kind=Account.Kind.FUNDING).pk,
    }

    assert len(accounts) == 4


def test_currency_get_is_case_insensitive(db):
    assert currency_get(code="btc").code == "BTC"


@pytest.mark.parametrize("code", ["XXX", "", "usd "])
def test_currency_get_refuses_unknown_codes(db, code):
    with pytest.raises(UnknownCurrencyError) as caught:
        currency_get(code=code)

    assert caught.value.code == "unknown_currency"


def test_currency_get_refuses_inactive_currencies(db):
    Currency.objects.filter(code="DOGE").update(is_active=False)

    with pytest.raises(UnknownCurrencyError):
        currency_get(code="DOGE")


def test_authorization_is_granted_once_and_revoked(alice, btc):
    assert not user_is_authorized(user_id=alice.pk, currency_code="BTC")

    currency_authorization_grant(user=alice, currency=btc)
    currency_authorization_grant(user=alice, currency=btc)
    assert CurrencyAuthorization.objects.filter(user=alice, currency=btc).count() == 1
    assert user_is_authorized(user_id=alice.pk, currency_code="BTC")

    currency_authorization_revoke(user=alice, currency=btc)
    assert not user_is_authorized(user_id=alice.pk, currency_code="BTC")


def test_the_settlement_currency_is_always_authorized_and_cannot_be_revoked(alice):
    usd = Currency.objects.get(code="USD")
    assert user_is_authorized(user_id=alice.pk, currency_code="USD")

    currency_authorization_grant(user=alice, currency=usd)
    currency_authorization_revoke(user=alice, currency=usd)

    assert CurrencyAuthorization.objects.filter(user=alice, currency=usd).exists()
    assert user_is_authorized(user_id=alice.pk, currency_code="USD")

