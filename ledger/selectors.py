"""Ledger reads. Tenant-facing selectors take the caller and scope with `scope_to_caller`;
`user_is_authorized` is a helper for services."""

from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.db.models import Exists, F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Value, Window
from django.db.models.functions import RowNumber

from accounts.callers import Caller, caller_rebuilt, caller_shape, scope_to_caller
from accounts.selectors import user_list
from core.api.fields import MAX_ID
from core.compiled import CompiledQuery
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
    # Read on every request that names a currency: compiled once per process (core.compiled).
    found = _ACTIVE_CURRENCY.fetch(code=str(code).upper())
    return found[0] if found else None


def _active_currency(shape: None, *, code: str) -> QuerySet[Currency]:
    return Currency.objects.filter(code=code, is_active=True).order_by("pk")[:1]


_ACTIVE_CURRENCY = CompiledQuery(_active_currency)


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


def account_find(*, caller: Caller, account_id: int) -> Account | None:
    """The account `account_id` if `account_list` holds it for the caller, else None: one
    statement compiled once per process for each kind of caller (core.compiled)."""
    shape, values = caller_shape(caller)
    found = _ACCOUNT.fetch(shape, account_id=account_id, **values)
    return found[0] if found else None


def _account(shape, *, account_id: int, **caller_values: int) -> QuerySet[Account]:
    return account_list(caller=caller_rebuilt(shape, **caller_values)).filter(pk=account_id)


_ACCOUNT = CompiledQuery(_account)


def account_destination_list(*, caller: Caller) -> QuerySet[Account]:
    """User accounts the caller may send money to: any of its client's (an end user may pay
    another user of the same client, without seeing that user's account otherwise)."""
    return scope_to_caller(Account.objects.filter(kind=Account.Kind.USER), caller).select_related(
        "currency", "user"
    )


def transfer_accounts_get(*, caller: Caller, ids: Iterable[int]) -> dict[int, Account]:
    """The accounts among `ids` the caller may send to (`account_destination_list`), in one query,
    whatever the number of transfers they serve. Which of them it may send *from* is
    `account_may_send_from`; an id missing from the result does not exist for the caller.

    A single transfer's (at most two ids) runs compiled once per process (core.compiled): on
    the money path Django's compiler cost more than the query. A batch's runs as it is, once."""
    unique = sorted(set(ids))
    if len(unique) > 2:
        return account_destination_list(caller=caller).in_bulk(unique)
    if not unique:
        return {}
    shape, values = caller_shape(caller)
    return {account.pk: account for account in _TRANSFER_ACCOUNTS.fetch(shape, ids=unique, **values)}


def _transfer_accounts(shape, *, ids: list[int], **caller_values: int) -> QuerySet[Account]:
    return account_destination_list(caller=caller_rebuilt(shape, **caller_values)).filter(pk__in=ids)


_TRANSFER_ACCOUNTS = CompiledQuery(_transfer_accounts)


def account_may_send_from(*, caller: Caller, account: Account) -> bool:
    """True when `account` (already within the caller's client) is in `account_list`: any of the
    client's user accounts, or for an end user its own."""
    return not caller.is_end_user or account.user_id == caller.end_user_id


def account_biggest_list(*, caller: Caller) -> QuerySet[Account]:
    """Per currency, the user account with the largest balance in the caller's scope (ties go to
    the oldest account). One query: a window ranks accounts within each currency."""
    ranked = account_list(caller=caller).annotate(
        rank=Window(RowNumber(), partition_by=[F("currency_id")], order_by=[F("balance").desc(), F("id").asc()])
    )
    return ranked.filter(rank=1).order_by("currency_id")


def balance_list(*, caller: Caller, user_id: int, currency: Currency | None = None) -> list[dict] | None:
    """The user's balances as `{currency, balance, available}` (minor units), one per account,
    narrowed to `currency` (a zero balance when there is no account); None when the caller may
    not see the user (`user_list`). One query: the user, left-joined to its accounts, compiled
    once per process for each kind of caller and currency (core.compiled)."""
    shape, values = caller_shape(caller)
    narrowed = (currency.code, currency.scale) if currency is not None else None
    found = _BALANCE_ROWS.fetch((shape, narrowed), user_id=user_id, **values)
    if not found:
        return None
    balances = [
        {"currency": Currency(code=code, scale=scale), "balance": balance, "available": balance - held}
        for code, scale, balance, held in found
        if code is not None
    ]
    if currency is not None and not balances:
        balances = [{"currency": currency, "balance": 0, "available": 0}]
    return balances


def _balance_rows(shape, *, user_id: int, **caller_values: int) -> QuerySet:
    caller_of, narrowed = shape
    user = user_list(caller=caller_rebuilt(caller_of, **caller_values)).filter(pk=user_id)
    if narrowed is None:
        return user.order_by("accounts__currency_id").values_list(
            "accounts__currency_id", "accounts__currency__scale", "accounts__balance", "accounts__held"
        )
    code, scale = narrowed
    # A left join restricted to the currency: the user's row comes back even without an account.
    return user.annotate(
        listed=FilteredRelation("accounts", condition=Q(accounts__currency_id=code))
    ).values_list("listed__currency_id", Value(scale), "listed__balance", "listed__held")


_BALANCE_ROWS = CompiledQuery(_balance_rows)


def entry_list(*, caller: Caller, account: Account | None = None) -> QuerySet[JournalEntry]:
    """Journal entries the caller may see (those touching `account` if given), with what
    rendering them needs (no N+1): postings with their account and currency, and the id of the
    reversing entry."""
    entries = scope_to_caller(JournalEntry.objects.all(), caller)
    if caller.is_end_user:
        own_postings = Posting.objects.filter(entry_id=OuterRef("pk"), account__user_id=caller.end_user_id)
        entries = entries.filter(Exists(own_postings))
    if account is not None:
        entries = entry_history_of(entries, account_id=account.pk)
    return _for_rendering(entries)


def entry_history_of(entries: QuerySet[JournalEntry], *, account_id: int) -> QuerySet[JournalEntry]:
    """`entries` that touch the account, driven from its postings: each row joins the account's
    first posting in the entry and carries `history_position` (its entry id) to order and page by
    (`ledger.api.pagination.HistoryCursorPagination`). A page then reads the index on postings
    (account, entry descending) from the cursor on, so a page 100,000 entries deep costs what the
    first does. (Filtering entries with EXISTS instead walks the journal backwards from the
    cursor and probes each entry.)"""
    earlier_leg = Posting.objects.filter(entry_id=OuterRef("pk"), account_id=account_id, id__lt=OuterRef("history_leg"))
    # Annotations reuse the join the filter made (a second filter on postings would add another).
    return (
        entries.filter(postings__account_id=account_id)
        .annotate(history_position=F("postings__entry_id"), history_leg=F("postings__id"))
        .filter(~Exists(earlier_leg))
    )


def entry_for_rendering(*, entry: JournalEntry) -> JournalEntry:
    """A just-written entry with what rendering it needs: as it is when the service left its
    postings in memory (the movement services do), else re-read (2 queries, not one per posting)."""
    if "postings" in getattr(entry, "_prefetched_objects_cache", {}) and hasattr(entry, "reversed_by_pk"):
        return entry
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
