"""Creating accounts, system accounts, and currency authorizations."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction

from accounts.models import Client, User
from ledger.errors import AlreadyExistsError, InactiveAccountError
from ledger.models import Account, Currency, CurrencyAuthorization

# System accounts that may go negative: funding mirrors money outside the platform (a deposit
# makes it negative by exactly what the client owes its users); inventory is the broker's
# position, sourced elsewhere; custody mirrors the coins held in the platform's on-chain wallets
# (negative by exactly what the chain holds for the client's users, like funding does for money
# outside). Fee revenue only ever receives.
_NEGATIVE_ALLOWED = {Account.Kind.FUNDING, Account.Kind.INVENTORY, Account.Kind.CUSTODY}

# What a system account needs to be a leg of an entry, all fixed when it is created: its id, owner,
# currency, kind and `allows_negative` (read-only in the admin, written by no service), and
# `user_id`, always None for a system account. `system_account_for_posting` keeps these per
# process by (client id, currency code, kind).
_POSTING_FIELDS = ("id", "client_id", "user_id", "currency_id", "kind", "allows_negative")
_posting_fields_by_key: dict[tuple[int, str, str], tuple] = {}


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


def system_account_for_posting(*, client_id: int, currency_code: str, kind: str) -> Account:
    """The client's system account of `kind` in `currency_code`, as a leg of an entry needs it.

    The account carries only the fields fixed at its creation (`_POSTING_FIELDS`); every other
    field (balance, held, is_active …) is deferred and read from the database if touched, so it is
    never stale. Those fields are cached per process once the transaction that read (or created)
    the account has committed: a system account is never deleted and its id never changes, so a
    cached id is right in every process for as long as the process lives. Caching only after
    commit keeps an account created by a transaction that then rolls back out of the cache.
    Creates the account on first use, like `system_account_get`.
    """
    key = (client_id, currency_code, kind)
    values = _posting_fields_by_key.get(key)
    if values is None:
        account = system_account_get(client=client_id, currency=currency_code, kind=kind)
        fetched = tuple(getattr(account, name) for name in _POSTING_FIELDS)
        transaction.on_commit(lambda: _posting_fields_by_key.setdefault(key, fetched))
        values = fetched
    return Account.from_db(DEFAULT_DB_ALIAS, list(_POSTING_FIELDS), list(values))


def system_accounts_forget() -> None:
    """Empty the per-process cache of `system_account_for_posting` (for tests whose database is
    rolled back or flushed, which a running deployment never does to system accounts)."""
    _posting_fields_by_key.clear()


def currency_authorization_grant(*, user: User, currency: Currency) -> CurrencyAuthorization:
    """Authorize `user` to transact `currency` (idempotent)."""
    authorization, _ = CurrencyAuthorization.objects.get_or_create(user=user, currency=currency)
    return authorization


def currency_authorization_revoke(*, user: User, currency: Currency) -> None:
    """Withdraw the authorization (the settlement currency cannot be revoked)."""
    CurrencyAuthorization.objects.filter(user=user, currency=currency).exclude(
        currency_id=settings.SETTLEMENT_CURRENCY
    ).delete()
