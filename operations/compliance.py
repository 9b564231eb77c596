"""Compliance review: rules evaluated on every journal entry, hits queued as review items.

`compliance_observe_entry` is listed in settings.LEDGER_ENTRY_OBSERVERS; `entry_post` calls it
inside the posting transaction, so a review item exists exactly when its movement does, and a
failure here rolls the movement back rather than letting it through unreviewed.
"""

from collections.abc import Sequence
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from broker.selectors import settlement_value
from ledger.models import JournalEntry, Posting
from ledger.money import amount_render
from ledger.services import Leg
from operations.models import ComplianceRule, ReviewItem


def compliance_observe_entry(*, entry: JournalEntry, legs: Sequence[Leg]) -> list[ReviewItem]:
    """Evaluate the active rules against the user legs of `entry`; return the review items created."""
    user_legs = [leg for leg in legs if leg.account.user_id is not None]
    if not user_legs:
        return []
    rules = list(ComplianceRule.objects.filter(is_active=True))
    items: list[ReviewItem] = []
    now = timezone.now()
    for rule in rules:
        seen_users: set[int] = set()
        movement_counts = (
            _movement_counts(rule=rule, user_legs=user_legs, now=now)
            if rule.kind == ComplianceRule.Kind.VELOCITY
            else {}
        )
        for leg in user_legs:
            user_id = leg.account.user_id
            if rule.currency_id and rule.currency_id != leg.account.currency_id:
                continue
            detail = _evaluate(
                rule=rule, entry=entry, leg=leg, now=now, seen_users=seen_users, movement_counts=movement_counts
            )
            if detail is not None:
                seen_users.add(user_id)
                items.append(
                    ReviewItem.objects.create(
                        client_id=entry.client_id, user_id=user_id, entry=entry, rule=rule, detail=detail[:500]
                    )
                )
    return items


def _movement_counts(*, rule: ComplianceRule, user_legs: Sequence[Leg], now) -> dict[int, int]:
    """Movements (journal entries) per user of this entry within the rule's window: one grouped
    query for every user the entry touches, not one per leg."""
    since = now - timedelta(minutes=rule.window_minutes)
    user_ids = {leg.account.user_id for leg in user_legs}
    rows = (
        Posting.objects.filter(account__user_id__in=user_ids, entry__created_at__gte=since)
        .values("account__user_id")
        .annotate(movements=Count("entry_id", distinct=True))
        .values_list("account__user_id", "movements")
    )
    return dict(rows)


def _evaluate(
    *, rule: ComplianceRule, entry: JournalEntry, leg: Leg, now, seen_users: set[int], movement_counts: dict[int, int]
) -> str | None:
    user_id = leg.account.user_id
    if user_id in seen_users:
        return None
    since = now - timedelta(minutes=rule.window_minutes)
    if rule.kind == ComplianceRule.Kind.LARGE_MOVEMENT:
        if _is_large(rule=rule, currency_code=leg.account.currency_id, amount=abs(leg.amount)):
            moved = amount_render(abs(leg.amount), currency=leg.account.currency)
            return f"{entry.kind} of {moved} exceeds the threshold"
        return None
    if rule.kind == ComplianceRule.Kind.VELOCITY:
        movements = movement_counts.get(user_id, 0)
        if movements <= rule.max_movements:
            return None
        # One item per user per window: the queue should show a pattern once, not every movement.
        if ReviewItem.objects.filter(user_id=user_id, rule=rule, created_at__gte=since).exists():
            return None
        return f"{movements} movements in {rule.window_minutes} minutes (allowed {rule.max_movements})"
    if rule.kind == ComplianceRule.Kind.WITHDRAWAL_AFTER_DEPOSIT:
        if entry.kind != JournalEntry.Kind.WITHDRAWAL or leg.amount >= 0:
            return None
        deposits = Posting.objects.filter(
            account__user_id=user_id,
            entry__kind=JournalEntry.Kind.DEPOSIT,
            entry__created_at__gte=since,
            amount__gt=0,
        ).values_list("entry_id", "account__currency_id", "amount")
        for deposit_id, currency_code, amount in deposits:
            if rule.currency_id and rule.currency_id != currency_code:
                continue
            if _is_large(rule=rule, currency_code=currency_code, amount=amount):
                return f"withdrawal within {rule.window_minutes} minutes of large deposit #{deposit_id}"
        return None
    return None


def _is_large(*, rule: ComplianceRule, currency_code: str, amount: int) -> bool:
    # Value in the settlement currency when a rate is known; the per-currency threshold in minor
    # units only when it is not, so one movement is never judged twice by the same rule.
    value = settlement_value(currency_code=currency_code, amount=amount)
    if value is not None:
        return rule.threshold_usd is not None and value > rule.threshold_usd
    return rule.threshold_minor is not None and rule.currency_id == currency_code and amount > rule.threshold_minor
