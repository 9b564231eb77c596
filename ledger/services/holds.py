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
# `balance - held >= x`, not `balance >= held + x`: the sum could overflow 64 bits.
# On PostgreSQL it also stamps the hold, under the row lock, later than the account's last posting
# (which did not count it) and no earlier than its last hold change, and records that time as the
# account's `holds_changed_at`, which a later posting is stamped no earlier than (the function in
# ledger migration 0013), so the holds active at a posting's time are the ones its `held_after`
# counts (a release reads its clock under the row lock). SQLite serialises writers and reads the
# clock after the write lock, and leaves `holds_changed_at` empty.
_HOLD_UPDATE = {
    "sqlite": "UPDATE ledger_account SET held = held + %s WHERE id = %s AND is_active = %s",
    "postgresql": (
        "UPDATE ledger_account SET held = held + %s, holds_changed_at = greatest(%s, holds_changed_at, "
        "(SELECT posting.posted_at + interval '1 microsecond' FROM ledger_posting AS posting "
        "WHERE posting.account_id = ledger_account.id ORDER BY posting.sequence DESC LIMIT 1)) "
        "WHERE id = %s AND is_active = %s"
    ),
}
_GUARD = " AND balance - held >= %s"
_STAMPED = " RETURNING holds_changed_at"


def hold_create(*, account: Account, amount: int, reason: str = "") -> Hold:
    """Reserve `amount` of the account's available balance.

    One guarded UPDATE (`held = held + x WHERE balance - held >= x`): concurrent holds can never
    reserve the same money twice. Raises InvalidAmountError, InsufficientFundsError,
    InactiveAccountError.
    """
    minor_units_check(amount, message="Hold amount must be a positive integer number of minor units.")
    # No savepoint: a refusal is raised outside the block, when the guarded UPDATE changed nothing,
    # so the caller's transaction is left as it was; any other error fails the caller's anyway.
    postgresql = connection.vendor == "postgresql"
    statement = _HOLD_UPDATE[connection.vendor]
    parameters: list = [amount, timezone.now(), account.pk, True] if postgresql else [amount, account.pk, True]
    if not account.allows_negative:
        statement, parameters = statement + _GUARD, [*parameters, amount]
    with transaction.atomic(savepoint=False):
        with prepared_cursor() as cursor:
            cursor.execute(statement + _STAMPED if postgresql else statement, parameters)
            is_held = cursor.rowcount == 1
            stamped = {"created_at": cursor.fetchone()[0]} if postgresql and is_held else {}
        # (SQLite: created_at defaults to the clock, read now, after the UPDATE took the write lock.)
        hold = row_create(Hold, account=account, amount=amount, reason=reason, **stamped) if is_held else None
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
        # Read under the row lock: later than every posting that came before (PostgreSQL records
        # it as the account's holds_changed_at, see _HOLD_UPDATE).
        now = timezone.now()
        hold_close(hold=hold, status=Hold.Status.RELEASED, at=now)
        stamped = {}
        if connection.vendor == "postgresql":
            stamped["holds_changed_at"] = Case(
                When(Q(holds_changed_at__isnull=True) | Q(holds_changed_at__lt=now), then=Value(now)),
                default=F("holds_changed_at"),
            )
        Account.objects.filter(pk=hold.account_id).update(held=F("held") - hold.amount, **stamped)
