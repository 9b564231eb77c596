"""Creating accounts, system accounts, and currency authorizations."""

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import Client, User
from ledger.errors import AlreadyExistsError, InactiveAccountError
from ledger.models import Account, Currency, CurrencyAuthorization

# System accounts that may go negative: funding mirrors money outside the platform (a deposit
# makes it negative by exactly what the client owes its users); inventory is the broker's
# position, sourced elsewhere; custody mirrors the coins held in the platform's on-chain wallets
# (negative by exactly what the chain holds for the client's users, like funding does for money
# outside). Fee revenue only ever receives.
_NEGATIVE_ALLOWED = {Account.Kind.FUNDING, Account.Kind.INVENTORY, Account.Kind.CUSTODY}


def account_create(*, user: User, currency: Currency) -> Account:
    """Open the user's account in `currency`. One per user per currency (AlreadyExistsError)."""
    if not user.is_active or user.client_id is None or not user.is_end_user:
        raise InactiveAccountError("Accounts can only be opened for active end users.")
    try:
        with transaction.atomic():
            return Account.objects.create(client_id=user.client_id, user=user, currency=currency)
    except IntegrityError:
        raise AlreadyExistsError(f"User {user.pk} already has a {currency.code} account.") from None


def user_account_get_or_create(*, user: User, currency: Currency) -> Account:
    """The user's account in `currency`, opened on first use (race-safe: the unique constraint decides)."""
    account = Account.objects.filter(user=user, currency=currency).select_related("user").first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            account_create(user=user, currency=currency)
    except (AlreadyExistsError, IntegrityError):
        pass
    return Account.objects.select_related("user").get(user=user, currency=currency)


def system_account_get(*, client: Client | int, currency: Currency | str, kind: str) -> Account:
    """The client's system account of `kind` in `currency`, created on first use (race-safe)."""
    client_id = client if isinstance(client, int) else client.pk
    currency_code = currency if isinstance(currency, str) else currency.code
    lookup = {"client_id": client_id, "currency_id": currency_code, "kind": kind, "user": None}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup, allows_negative=kind in _NEGATIVE_ALLOWED)
    except IntegrityError:
        # Another process created it between our read and insert: the unique constraint decided.
        return Account.objects.get(**lookup)


def currency_authorization_grant(*, user: User, currency: Currency) -> CurrencyAuthorization:
    """Authorize `user` to transact `currency` (idempotent)."""
    authorization, _ = CurrencyAuthorization.objects.get_or_create(user=user, currency=currency)
    return authorization


def currency_authorization_revoke(*, user: User, currency: Currency) -> None:
    """Withdraw the authorization (the settlement currency cannot be revoked)."""
    CurrencyAuthorization.objects.filter(user=user, currency=currency).exclude(
        currency_id=settings.SETTLEMENT_CURRENCY
    ).delete()
