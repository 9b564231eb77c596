"""Back-office actions of the operations app itself, each audited in its own transaction.

Lifecycle changes owned by other apps (clients, API keys, freezes, deactivation, adjustments,
rates) are audited by those apps' services, so every caller records them.

Held withdrawals write their client's events (`withdrawal.pending_review`, `.approved`,
`.rejected`) in the transaction of each step.

Withdrawals above settings.WITHDRAWAL_REVIEW_THRESHOLD_USD are decided here: the request holds
the amount, and Compliance approves (the withdrawal entry captures the hold) or rejects (the hold
is released). The pending row is locked first, then the ledger takes its locks (accounts, then
the hold), so an approval and a rejection of one request serialise and exactly one applies.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import COMPLIANCE, user_has_role
from audit.services import audit_record
from broker.selectors import settlement_value
from core.errors import ConflictError, InvalidInputError, PermissionDeniedError
from events.services import event_record
from ledger.models import Account, JournalEntry
from ledger.money import amount_render
from ledger.services import (
    hold_create,
    hold_release,
    withdrawal_check,
    withdrawal_create,
)
from operations.errors import WithdrawalDecidedError
from operations.models import PendingWithdrawal, ReviewItem


def review_item_resolve(*, actor: User, item: ReviewItem, status: str, note: str = "") -> ReviewItem:
    """Clear or escalate an open review item (an escalated one may still be cleared).

    A held withdrawal's item is cleared only by approving or rejecting the withdrawal, so the
    queue never shows it done while the money is still held.
    """
    if status not in (ReviewItem.Status.CLEARED, ReviewItem.Status.ESCALATED):
        raise InvalidInputError(f"A review item is resolved as cleared or escalated, not {status!r}.")
    allowed_from = [ReviewItem.Status.OPEN] + ([ReviewItem.Status.ESCALATED] if status == "cleared" else [])
    with transaction.atomic():
        before = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if before.status not in allowed_from:
            raise ConflictError(f"Review item {item.pk} is already {before.status}.")
        if status == ReviewItem.Status.CLEARED and before.withdrawal_id is not None:
            raise ConflictError(f"Review item {item.pk} closes when its withdrawal is approved or rejected.")
        now = timezone.now()
        ReviewItem.objects.filter(pk=item.pk).update(status=status, note=note, resolved_by=actor, resolved_at=now)
        item.refresh_from_db()
        audit_record(
            actor=actor, action=f"operations.review_item_{status}", obj=item, client=item.client_id,
            before={"status": before.status}, after={"status": status, "note": note},
        )
    return item


def review_item_note_update(*, actor: User, item: ReviewItem, note: str) -> ReviewItem:
    """Change a review item's note (its status moves only through `review_item_resolve`).

    Writes one `operations.review_item_note` audit event when the note changes.
    """
    with transaction.atomic():
        before = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if before.note == note:
            return before
        ReviewItem.objects.filter(pk=item.pk).update(note=note)
        item.note = note
        audit_record(
            actor=actor, action="operations.review_item_note", obj=item, client=item.client_id,
            before={"note": before.note}, after={"note": note},
        )
    return item


def withdrawal_needs_review(*, account: Account, amount: int) -> bool:
    """Whether a withdrawal of `amount` must wait for Compliance (the setting is on and its value
    in the settlement currency exceeds the threshold). Without a known rate it cannot be valued
    and is not held; the per-currency compliance rules still see it once it is posted."""
    threshold = settings.WITHDRAWAL_REVIEW_THRESHOLD_USD
    if threshold <= 0:
        return False
    value = settlement_value(currency_code=account.currency_id, amount=amount)
    return value is not None and value > threshold


def withdrawal_submit(
    *, account: Account, amount: int, reference: str = "", metadata: dict | None = None
) -> JournalEntry | PendingWithdrawal:
    """The withdrawals endpoint's one decision: withdraw now, or hold for Compliance."""
    if withdrawal_needs_review(account=account, amount=amount):
        return withdrawal_request(account=account, amount=amount, reference=reference, metadata=metadata)
    return withdrawal_create(account=account, amount=amount, reference=reference, metadata=metadata)


def withdrawal_request(
    *, account: Account, amount: int, reference: str = "", metadata: dict | None = None
) -> PendingWithdrawal:
    """Hold `amount` on a user account and queue the withdrawal for a Compliance decision.

    The same checks as an immediate withdrawal, before any write; then, in one transaction, the
    hold (balance unchanged, available lower), the pending row and its open review item.
    Locks: the account row (the hold's guarded update).
    Raises InvalidAmountError, NotAUserAccountError, InactiveAccountError, UserFrozenError,
    CurrencyNotAuthorizedError, InsufficientFundsError.
    """
    withdrawal_check(account=account, amount=amount)
    with transaction.atomic():
        hold = hold_create(account=account, amount=amount, reason="withdrawal held for compliance review")
        pending = PendingWithdrawal.objects.create(
            client_id=account.client_id, user_id=account.user_id, account=account, amount=amount, hold=hold,
            reference=reference, metadata=metadata or {},
        )
        ReviewItem.objects.create(
            client_id=account.client_id, user_id=account.user_id, withdrawal=pending,
            detail=f"withdrawal of {amount_render(amount, currency=account.currency)} held for approval",
        )
        event_record(type="withdrawal.pending_review", obj=pending)
    return pending


def withdrawal_approve(*, pending: PendingWithdrawal, actor: User) -> PendingWithdrawal:
    """Post the held withdrawal: one WITHDRAWAL entry (user account → the client's funding
    account) that captures the hold in the same account update. Exactly once.

    Refused, with nothing written, if the account or its user may no longer move money; the
    request then stays pending (rejecting it always works).
    Locks: the pending row, then the accounts in primary-key order, then the hold.
    Raises PermissionDeniedError (not Compliance), WithdrawalDecidedError, InactiveAccountError,
    UserFrozenError, CurrencyNotAuthorizedError.
    """
    _check_can_decide(actor)
    with transaction.atomic():
        locked = _lock_pending(pending)
        account = Account.objects.select_related("user").get(pk=locked.account_id)
        entry = withdrawal_create(
            account=account, amount=locked.amount, reference=locked.reference, metadata=locked.metadata,
            hold=locked.hold,
        )
        _decide(pending=locked, actor=actor, status=PendingWithdrawal.Status.APPROVED, entry=entry)
    return locked


def withdrawal_reject(*, pending: PendingWithdrawal, actor: User, reason: str) -> PendingWithdrawal:
    """Release the held amount; no money moves. Exactly once. `reason` stays internal (audit,
    review note); the client sees only the status.

    Locks: the pending row, then the account, then the hold.
    Raises PermissionDeniedError (not Compliance), WithdrawalDecidedError.
    """
    _check_can_decide(actor)
    with transaction.atomic():
        locked = _lock_pending(pending)
        hold_release(hold=locked.hold)
        _decide(pending=locked, actor=actor, status=PendingWithdrawal.Status.REJECTED, reason=reason)
    return locked


def _check_can_decide(actor: User) -> None:
    if not user_has_role(actor, COMPLIANCE):
        raise PermissionDeniedError("Only Compliance may approve or reject held withdrawals.")


def _lock_pending(pending: PendingWithdrawal) -> PendingWithdrawal:
    # The row lock serialises decisions on one request; the status read under it is current.
    locked = PendingWithdrawal.objects.select_for_update(of=("self",)).select_related("hold").get(pk=pending.pk)
    if locked.status != PendingWithdrawal.Status.PENDING_REVIEW:
        raise WithdrawalDecidedError(f"Withdrawal request {pending.pk} is already {locked.status}.")
    return locked


def _decide(
    *, pending: PendingWithdrawal, actor: User, status: str, entry: JournalEntry | None = None, reason: str = ""
) -> None:
    now = timezone.now()
    # Guarded on the status as well as locked: a second decision can never overwrite the first.
    updated = PendingWithdrawal.objects.filter(pk=pending.pk, status=PendingWithdrawal.Status.PENDING_REVIEW).update(
        status=status, entry=entry, decided_by=actor, decided_at=now, reason=reason
    )
    if updated != 1:
        raise WithdrawalDecidedError(f"Withdrawal request {pending.pk} is already decided.")
    note = f"Withdrawal {status}." + (f" {reason}" if reason else "")
    ReviewItem.objects.filter(
        withdrawal_id=pending.pk, status__in=[ReviewItem.Status.OPEN, ReviewItem.Status.ESCALATED]
    ).update(status=ReviewItem.Status.CLEARED, note=note, resolved_by=actor, resolved_at=now)
    before = {"status": pending.status}
    pending.status, pending.entry, pending.decided_by, pending.decided_at, pending.reason = (
        status, entry, actor, now, reason
    )
    audit_record(
        actor=actor, action=f"operations.withdrawal_{status}", obj=pending, client=pending.client_id,
        before=before, after={"status": status, "entry": entry.pk if entry else None, "reason": reason},
    )
    event_record(type=f"withdrawal.{status}", obj=pending)  # withdrawal.approved, withdrawal.rejected
