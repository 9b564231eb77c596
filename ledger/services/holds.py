"""Holds: reserve part of an account's available balance, then release or capture it once.

Capture happens inside `entry_post` (the journal entry that spends the held funds); this module
creates and releases.
"""

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from core.compiled import row_create
from core.prepared import prepared_cursor
from ledger.errors import InactiveAccountError, InsufficientFundsError
from ledger.models import Account, Hold
from ledger.money import amount_render, minor_units_check
from ledger.services.posting import hold_close

# The guarded UPDATE, written once (on every order Django compiled it anew, more CPU than it
# costs to run), prepared once per connection like the money path's other fixed statements.
# `balance - held >= x`, not `balance >= held + x`: the sum could overflow 64 bits. The account's
# `holds_changed_at` moves to the hold's time (never back).
_HOLD_UPDATE = (
    "UPDATE ledger_account SET held = held + %s, holds_changed_at = CASE WHEN holds_changed_at IS NULL "
    "OR holds_changed_at < %s THEN %s ELSE holds_changed_at END WHERE id = %s AND is_active = %s"
)
_HOLD_UPDATE_GUARDED = f"{_HOLD_UPDATE} AND balance - held >= %s"


def hold_create(*, account: Account, amount: int, reason: str = "") -> Hold:
    """Reserve `amount` of the account's available balance.

    One guarded UPDATE (`held = held + x WHERE balance - held >= x`): concurrent holds can never
    reserve the same money twice. Raises InvalidAmountError, InsufficientFundsError,
    InactiveAccountError.
    """
    minor_units_check(amount, message="Hold amount must be a positive integer number of minor units.")
    # No savepoint: a refusal is raised outside the block, when the guarded UPDATE changed nothing,
    # so the caller's transaction is left as it was; any other error fails the caller's anyway.
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(savepoint=False):
        with prepared_cursor() as cursor:
            if account.allows_negative:
                cursor.execute(_HOLD_UPDATE, [amount, at, at, account.pk, True])
            else:
                cursor.execute(_HOLD_UPDATE_GUARDED, [amount, at, at, account.pk, True, amount])
            is_held = cursor.rowcount == 1
        hold = row_create(Hold, account=account, amount=amount, reason=reason, created_at=now) if is_held else None
    if hold is None:
        if not Account.objects.filter(pk=account.pk, is_active=True).exists():
            raise InactiveAccountError(f"Account {account.pk} is inactive.")
        raise InsufficientFundsError(
            f"Account {account.pk} does not have {amount_render(amount, currency=account.currency)} available."
        )
    return hold


def hold_release(*, hold: Hold) -> None:
    """Make held funds available again. Exactly once: HoldNotActiveError on a closed hold."""
    with transaction.atomic():
        # Lock the account row first: the same order as entry_post (accounts, then holds). Closing
        # the hold before touching `held` means a second release fails cleanly, not on a constraint.
        list(Account.objects.select_for_update().filter(pk=hold.account_id).values_list("pk"))
        now = timezone.now()
        hold_close(hold=hold, status=Hold.Status.RELEASED, at=now)
        Account.objects.filter(pk=hold.account_id).update(
            held=F("held") - hold.amount,
            holds_changed_at=Case(
                When(Q(holds_changed_at__isnull=True) | Q(holds_changed_at__lt=now), then=Value(now)),
                default=F("holds_changed_at"),
            ),
        )
