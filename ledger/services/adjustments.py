"""Staff adjustments: correct a balance with a balanced entry against the client's funding account.

The funding account mirrors money outside the platform, so an adjustment is booked as money
arriving from (or returned to) outside: the ledger stays balanced and `verify_ledger` still holds.
"""

from django.db import transaction

from audit.services import audit_record
from core.errors import InvalidInputError
from ledger.errors import InvalidAmountError
from ledger.models import Account, JournalEntry
from ledger.money import minor_units_check
from ledger.services.accounts import system_account_get
from ledger.services.legs import Leg
from ledger.services.posting import entry_post


class ReasonRequiredError(InvalidInputError):
    code = "reason_required"
    title = "A reason is required"


def adjustment_create(*, account: Account, amount: int, reason: str, actor) -> JournalEntry:
    """Credit (positive `amount`) or debit (negative) `account`, in minor units, against funding.

    Writes one ADJUSTMENT journal entry and its audit event in one transaction. A debit is
    guarded like any other (never below the available balance of an account that may not go
    negative). Frozen users can still be adjusted: a correction is staff acting, not the user
    moving money; inactive accounts cannot.
    Locks: the account and the funding account, in primary-key order (inside entry_post).
    Raises ReasonRequiredError, InvalidAmountError, InsufficientFundsError, InactiveAccountError.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequiredError("An adjustment needs a reason.")
    minor_units_check(
        amount, signed=True, message="Adjustment amount must be a non-zero integer number of minor units."
    )
    if account.kind == Account.Kind.FUNDING:
        raise InvalidAmountError("The funding account is the other side of every adjustment; adjust another account.")
    if actor is None or getattr(actor, "pk", None) is None:
        raise InvalidInputError("An adjustment needs the staff user who posts it.")
    funding = system_account_get(client=account.client_id, currency=account.currency_id, kind=Account.Kind.FUNDING)
    with transaction.atomic():
        entry = entry_post(
            client_id=account.client_id,
            kind=JournalEntry.Kind.ADJUSTMENT,
            legs=[Leg(funding, -amount), Leg(account, amount)],
            reference=f"adjustment by {actor.get_username()}"[:200],
            metadata={"reason": reason, "actor_id": actor.pk, "account_id": account.pk},
        )
        # Read after our own update: the row is locked by this transaction, so this is exact.
        balance_after = Account.objects.values_list("balance", flat=True).get(pk=account.pk)
        audit_record(
            actor=actor,
            action="ledger.adjustment_create",
            obj=entry,
            client=account.client_id,
            before={"account_id": account.pk, "balance": balance_after - amount},
            after={
                "account_id": account.pk,
                "balance": balance_after,
                "amount": amount,
                "currency": account.currency_id,
                "reason": reason,
            },
        )
    return entry
