"""Which currencies a user may transact: the client's offering, then the user's authorization."""

from django.conf import settings
from django.db import transaction

from accounts.models import Client, User
from audit.services import audit_record
from broker.errors import CurrencyNotOfferedError, SettlementCurrencyError
from broker.models import OfferedCurrency
from broker.selectors import currency_is_offered, currency_trading_facts
from ledger.errors import CurrencyNotAuthorizedError
from ledger.models import Currency, CurrencyAuthorization
from ledger.services import currency_authorization_grant, currency_authorization_revoke


def user_currency_grant(*, user: User, currency: Currency) -> CurrencyAuthorization:
    """Authorize `user` for `currency` (idempotent).

    Raises CurrencyNotOfferedError when the user's client does not offer the currency.
    """
    if not currency_is_offered(client_id=user.client_id, currency_code=currency.code):
        raise CurrencyNotOfferedError(f"Client {user.client_id} does not offer {currency.code}.")
    return currency_authorization_grant(user=user, currency=currency)


def user_currency_revoke(*, user: User, currency: Currency) -> None:
    """Withdraw the authorization. Orders resting in the currency are rejected when they would fill.

    Raises SettlementCurrencyError for the settlement currency, which every user may transact.
    """
    if currency.code == settings.SETTLEMENT_CURRENCY:
        raise SettlementCurrencyError(f"{currency.code} is the settlement currency and cannot be revoked.")
    currency_authorization_revoke(user=user, currency=currency)


def currency_check_offered_and_authorized(*, user: User, currency: Currency) -> int | None:
    """Refuse a currency the client does not offer or the user is not authorized for (403 either
    way). Returns the currency's current price_e8 (None without a rate), read with the checks."""
    facts = currency_trading_facts(user=user, currency_code=currency.code)
    if not facts.is_offered:
        raise CurrencyNotOfferedError(f"Client {user.client_id} does not offer {currency.code}.")
    if not facts.is_authorized:
        raise CurrencyNotAuthorizedError(f"User {user.pk} is not authorized for {currency.code}.")
    return facts.price_e8


def offered_currency_add(*, client: Client, currency: Currency, actor: User | None = None) -> OfferedCurrency:
    """Offer `currency` to the client's users. The first row turns 'everything offered' into a list.

    Idempotent; when a row is added, one `broker.offered_currency_add` audit event is written with it.
    """
    with transaction.atomic():
        offering, created = OfferedCurrency.objects.get_or_create(client=client, currency=currency)
        if created:
            audit_record(actor=actor, action="broker.offered_currency_add", obj=offering, client=client.pk,
                         after={"currency": currency.code})
    return offering


def offered_currency_remove(*, client: Client, currency: Currency, actor: User | None = None) -> None:
    """Stop offering `currency`. Existing authorizations stay, but trading in it is refused.

    When a row is removed, one `broker.offered_currency_remove` audit event is written with it.
    """
    with transaction.atomic():
        offering = OfferedCurrency.objects.filter(client=client, currency=currency).first()
        if offering is None:
            return
        audit_record(actor=actor, action="broker.offered_currency_remove", obj=offering, client=client.pk,
                     before={"currency": currency.code})
        offering.delete()
