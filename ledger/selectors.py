"""Ledger reads. Tenant-facing selectors take the caller and scope with `scope_to_caller`;
`user_is_authorized` is a helper for services."""

from functools import cache

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber

from accounts.callers import Caller, scope_to_caller
from accounts.models import User
from core.api.fields import MAX_ID
from core.errors import NotFoundError, PermissionDeniedError
from ledger.errors import UnknownCurrencyError
from ledger.models import Account, Currency, CurrencyAuthorization, JournalEntry, Posting


def settlement_currency() -> Currency:
    """The settlement currency (settings.SETTLEMENT_CURRENCY, USD): every price is quoted in it,
    every notional and fee is in its minor units, and its `scale` renders them.

    The one accessor for it. Cached per process: its code is a setting and a currency's scale
    can never change once amounts exist in it.
    """
    return _currency_by_code(settings.SETTLEMENT_CURRENCY)


@cache
def _currency_by_code(code: str) -> Currency:
    return Currency.objects.get(code=code)


def currency_active_find(*, code: str) -> Currency | None:
    """The one lookup of an active currency by code (any case), or None.

    Each context gives one answer when it finds nothing: a code in a request body is a 400
    field error `unknown_currency` (ledger.api.fields.CurrencyCodeField); a code in a URL is a
    404 (the resource does not exist); a service or command given a code raises
    UnknownCurrencyError (`currency_get`).
    """
    return Currency.objects.filter(code=str(code).upper(), is_active=True).first()


def currency_get(*, code: str) -> Currency:
    """An active currency by code (any case), or UnknownCurrencyError."""
    currency = currency_active_find(code=code)
    if currency is None:
        raise UnknownCurrencyError(f"Unknown or inactive currency {code!r}.")
    return currency


def user_is_authorized(*, user_id: int, currency_code: str) -> bool:
    """True when the user may transact the currency (the settlement currency always)."""
    if currency_code == settings.SETTLEMENT_CURRENCY:
        return True
    return CurrencyAuthorization.objects.filter(user_id=user_id, currency_id=currency_code).exists()


def account_list(*, caller: Caller) -> QuerySet[Account]:
    """User accounts the caller may see (system accounts are never exposed): its client's, or
    for an end user its own."""
    # The owner comes along: moving money checks it (active, frozen, authorized).
    accounts = scope_to_caller(Account.objects.filter(kind=Account.Kind.USER), caller).select_related(
        "currency", "user"
    )
    if caller.is_end_user:
        accounts = accounts.filter(user_id=caller.end_user_id)
    return accounts


def account_destination_list(*, caller: Caller) -> QuerySet[Account]:
    """User accounts the caller may send money to: any of its client's (an end user may pay
    another user of the same client, without seeing that user's account otherwise)."""
    return scope_to_caller(Account.objects.filter(kind=Account.Kind.USER), caller).select_related(
        "currency", "user"
    )


def account_biggest_list(*, caller: Caller) -> QuerySet[Account]:
    """Per currency, the user account with the largest balance in the caller's scope (ties go to
    the oldest account). One query: a window ranks accounts within each currency."""
    ranked = account_list(caller=caller).annotate(
        rank=Window(RowNumber(), partition_by=[F("currency_id")], order_by=[F("balance").desc(), F("id").asc()])
    )
    return ranked.filter(rank=1).order_by("currency_id")


def balance_list(*, caller: Caller, user: User, currency: Currency | None = None) -> list[dict]:
    """The user's balances as `{currency, balance, available, scale}` (minor units), one per
    account; narrowed to `currency`, which answers a zero balance when there is no account."""
    accounts = account_list(caller=caller).filter(user_id=user.pk).order_by("currency_id")
    if currency is not None:
        accounts = accounts.filter(currency_id=currency.code)
    balances = [
        {"currency": account.currency, "balance": account.balance, "available": account.available}
        for account in accounts
    ]
    if currency is not None and not balances:
        balances = [{"currency": currency, "balance": 0, "available": 0}]
    return balances


def entry_list(*, caller: Caller, account: Account | None = None) -> QuerySet[JournalEntry]:
    """Journal entries the caller may see (those touching `account` if given), with what
    rendering them needs (no N+1): postings with their account and currency, and the id of the
    reversing entry."""
    entries = scope_to_caller(JournalEntry.objects.all(), caller)
    if caller.is_end_user:
        own_postings = Posting.objects.filter(entry_id=OuterRef("pk"), account__user_id=caller.end_user_id)
        entries = entries.filter(Exists(own_postings))
    if account is not None:
        entries = entries.filter(Exists(Posting.objects.filter(entry_id=OuterRef("pk"), account_id=account.pk)))
    return _for_rendering(entries)


def entry_for_rendering(*, entry: JournalEntry) -> JournalEntry:
    """A just-written entry re-read with what rendering it needs (2 queries, not one per posting)."""
    return _for_rendering(JournalEntry.objects.filter(pk=entry.pk)).get()


def _for_rendering(entries: QuerySet[JournalEntry]) -> QuerySet[JournalEntry]:
    return entries.annotate(reversed_by_pk=F("reversed_by__id")).prefetch_related(
        Prefetch("postings", queryset=Posting.objects.select_related("account__currency").order_by("id"))
    )


def transfer_list(*, caller: Caller) -> QuerySet[JournalEntry]:
    return entry_list(caller=caller).filter(kind=JournalEntry.Kind.TRANSFER)


def access_transfer_to_reverse(*, caller: Caller, entry_id: int) -> JournalEntry:
    """The transfer `entry_id`, if the caller may reverse it.

    Another tenant's transfer, or one an end user cannot see, does not exist for the caller
    (NotFoundError, 404). An end user may reverse only a transfer they received
    (PermissionDeniedError, 403); the client and its staff may reverse any of theirs.
    """
    transfer = transfer_list(caller=caller).filter(pk=entry_id).first() if 0 < entry_id <= MAX_ID else None
    if transfer is None:
        raise NotFoundError(f"Transfer {entry_id} not found.")
    if caller.is_end_user and not any(
        posting.amount > 0 and posting.account.user_id == caller.end_user_id for posting in transfer.postings.all()
    ):
        raise PermissionDeniedError("End users may reverse only transfers they received.")
    return transfer
