"""Deposits, withdrawals, transfers and their reversals.

Each validates its input before any write, then calls `entry_post` once, inside one
transaction. A rejection raises a domain error and writes nothing. The entry comes back with its
postings in memory (`entry.postings.all()` sends no query), so rendering it needs no re-read.
"""

from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from ledger.errors import (
    AccountNotFoundError,
    AlreadyReversedError,
    CurrencyMismatchError,
    CurrencyNotAuthorizedError,
    InactiveAccountError,
    NotAUserAccountError,
    NotReversibleError,
    SameAccountError,
    UserFrozenError,
)
from ledger.models import Account, Hold, JournalEntry
from ledger.money import minor_units_check
from ledger.selectors import user_is_authorized
from ledger.services.accounts import system_account_for_posting
from ledger.services.legs import Leg, posted_for_rendering
from ledger.services.posting import entry_post


def deposit_create(
    *, account: Account, amount: int, reference: str = "", metadata: dict | None = None
) -> JournalEntry:
    """Credit a user account from its client's funding account (money arriving from outside).

    Locks: the user account and the funding account, in primary-key order.
    Raises InvalidAmountError, InactiveAccountError, UserFrozenError, CurrencyNotAuthorizedError.
    """
    _check_amount(amount)
    _check_user_account(account)
    account_check_can_move(account=account)
    funding = system_account_for_posting(
        client_id=account.client_id, currency_code=account.currency_id, kind=Account.Kind.FUNDING
    )
    return _post(
        client_id=account.client_id,
        kind=JournalEntry.Kind.DEPOSIT,
        legs=[Leg(funding, -amount), Leg(account, amount)],
        reference=reference,
        metadata=metadata,
    )


def withdrawal_create(
    *,
    account: Account,
    amount: int,
    reference: str = "",
    metadata: dict | None = None,
    hold: Hold | None = None,
) -> JournalEntry:
    """Debit a user account to its client's funding account (money leaving the platform).

    With `hold` (funds reserved earlier for this withdrawal, e.g. while it awaited review), the
    entry captures it in the same account update, so the held amount pays for the withdrawal.
    Locks: the user account and the funding account, in primary-key order, then the hold.
    Raises InvalidAmountError, InsufficientFundsError, InactiveAccountError, UserFrozenError,
    CurrencyNotAuthorizedError, HoldNotActiveError.
    """
    withdrawal_check(account=account, amount=amount)
    funding = system_account_for_posting(
        client_id=account.client_id, currency_code=account.currency_id, kind=Account.Kind.FUNDING
    )
    return _post(
        client_id=account.client_id,
        kind=JournalEntry.Kind.WITHDRAWAL,
        legs=[Leg(account, -amount), Leg(funding, amount)],
        reference=reference,
        metadata=metadata,
        captured_holds=[hold] if hold is not None else (),
    )


def withdrawal_check(*, account: Account, amount: int) -> None:
    """Refuse a withdrawal before any write. Shared with withdrawals held for compliance review,
    so a held request is refused for exactly the reasons an immediate one would be.

    Raises InvalidAmountError, NotAUserAccountError, InactiveAccountError, UserFrozenError,
    CurrencyNotAuthorizedError.
    """
    _check_amount(amount)
    _check_user_account(account)
    account_check_can_move(account=account)


def transfer_create(
    *,
    from_account: Account,
    to_account: Account,
    amount: int,
    reference: str = "",
    metadata: dict | None = None,
) -> JournalEntry:
    """Move `amount` between two user accounts of the same client and currency.

    Locks: both accounts, in primary-key order (so opposite transfers cannot deadlock).
    Raises InvalidAmountError, SameAccountError, CurrencyMismatchError, InsufficientFundsError,
    InactiveAccountError, UserFrozenError, CurrencyNotAuthorizedError.
    """
    transfer_check(from_account=from_account, to_account=to_account, amount=amount)
    return _post(
        client_id=from_account.client_id,
        kind=JournalEntry.Kind.TRANSFER,
        legs=[Leg(from_account, -amount), Leg(to_account, amount)],
        reference=reference,
        metadata=metadata,
    )


def transfer_check(*, from_account: Account, to_account: Account, amount: int) -> None:
    """Refuse a transfer before any write, for every reason but the funds (the ledger's guarded
    debit decides those). Shared with batches, whose items are refused exactly as single ones.

    Raises InvalidAmountError, SameAccountError, CurrencyMismatchError, AccountNotFoundError,
    NotAUserAccountError, InactiveAccountError, UserFrozenError, CurrencyNotAuthorizedError.
    """
    _check_amount(amount)
    if from_account.pk == to_account.pk:
        raise SameAccountError("Cannot transfer to the same account.")
    if from_account.currency_id != to_account.currency_id:
        raise CurrencyMismatchError(
            f"Cannot transfer {from_account.currency_id} to a {to_account.currency_id} account."
        )
    if from_account.client_id != to_account.client_id:
        # Callers resolve both accounts within one tenant; this is the ledger's own backstop, and
        # it answers as the API does for another tenant's object: it does not exist for you.
        raise AccountNotFoundError(f"Account {to_account.pk} not found.")
    _check_user_account(from_account)
    _check_user_account(to_account)
    account_check_can_move(account=from_account)
    account_check_can_move(account=to_account)


def transfer_reverse(
    *, entry: JournalEntry, actor: User | None = None, reference: str = "", metadata: dict | None = None
) -> JournalEntry:
    """Undo a transfer with a new entry of opposite postings. An entry is reversed at most once.

    The recipient must still hold the funds (the guarded debit refuses otherwise). Writes one
    `ledger.transfer_reverse` audit event in the same transaction (`actor`: the person who asked,
    None for an API key or the system).
    Locks: the original entry row first (serialises concurrent reversals of one entry), then
    the accounts in primary-key order. The one-to-one `reverses` column is the backstop.
    Raises NotReversibleError, AlreadyReversedError, InsufficientFundsError, InactiveAccountError,
    UserFrozenError.
    """
    with transaction.atomic():
        original = JournalEntry.objects.select_for_update().get(pk=entry.pk)
        if original.kind != JournalEntry.Kind.TRANSFER:
            raise NotReversibleError("Only transfers can be reversed.")
        if JournalEntry.objects.filter(reverses=original).exists():
            raise AlreadyReversedError(f"Transfer {original.pk} has already been reversed.")
        postings = list(original.postings.select_related("account__currency", "account__user"))
        for posting in postings:
            account_check_can_move(account=posting.account, check_authorization=False)
        reversal = _post(
            client_id=original.client_id,
            kind=JournalEntry.Kind.REVERSAL,
            legs=[Leg(posting.account, -posting.amount) for posting in postings],
            reference=reference,
            metadata=metadata,
            reverses=original,
        )
        audit_record(
            actor=actor, action="ledger.transfer_reverse", obj=original, client=original.client_id,
            after={"reversal_entry_id": reversal.pk},
        )
        return reversal


def user_check_can_move(*, user: User) -> None:
    """The one rule for "this user may move money" (ledger movements and brokerage trades alike):
    an active, unfrozen end user. Raises InactiveAccountError, UserFrozenError."""
    if not user.is_active or not user.is_end_user:
        raise InactiveAccountError(f"User {user.pk} is inactive.")
    if user.is_frozen:
        raise UserFrozenError(f"User {user.pk} is frozen.")


def account_check_can_move(*, account: Account, check_authorization: bool = True) -> None:
    """Refuse movement on an inactive account, or a user's that is inactive, frozen or unauthorized."""
    if not account.is_active:
        raise InactiveAccountError(f"Account {account.pk} is inactive.")
    user = account.user
    if user is None:
        return
    user_check_can_move(user=user)
    if check_authorization and not user_is_authorized(user_id=user.pk, currency_code=account.currency_id):
        raise CurrencyNotAuthorizedError(f"User {user.pk} is not authorized for {account.currency_id}.")


def _check_user_account(account: Account) -> None:
    if account.kind != Account.Kind.USER:
        raise NotAUserAccountError(f"Account {account.pk} is a {account.kind} system account.")


def _check_amount(amount: int) -> None:
    # Amounts arrive parsed by ledger.money; this guards direct callers of the services.
    minor_units_check(amount)

def _post(*, legs: list[Leg], **entry) -> JournalEntry:
    """`entry_post`, whose entry carries the postings it wrote in leg order (the order they were
    inserted in, i.e. of their ids), with each account's currency shared where one leg has it."""
    return posted_for_rendering(entry_post(legs=legs, **entry), legs=legs)
