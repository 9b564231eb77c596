"""Compliance review: rules evaluated on every journal entry, hits queued as review items.

`compliance_observe_entry` is listed in settings.LEDGER_ENTRY_OBSERVERS; `entry_post` calls it
inside the posting transaction (`entries_post`, for a batch, calls `compliance_observe_entries`
once for all its entries), so a review item exists exactly when its movement does, and a
failure here rolls the movement back rather than letting it through unreviewed. A movement
posted in one statement (a transfer or deposit through the API on PostgreSQL) asks
`compliance_statement_parameters` instead: the same rules and checks, written by that statement.

It runs while the entry's account rows are locked, so it is kept O(1) in the user's history:
- Active rules are read once per process every settings.COMPLIANCE_RULES_CACHE_SECONDS (a rule
  change applies within that bound; 0 reads them on every entry).
- Velocity counts come from `MovementCount`, one row per user per minute, bumped and read back in
  one statement on PostgreSQL (two on SQLite): at most `window_minutes` rows per user, never the
  user's postings. The window is the current minute and the `window_minutes - 1` before it.
- A large movement is judged from the entry in memory (a rate read for non-settlement currencies).
- Withdrawal-after-deposit reads the user's deposits of the window, for withdrawals only.
The pending-withdrawal hold (operations.services) is decided before any of this, synchronously.
"""

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from broker.selectors import settlement_value
from core.prepared import prepared_cursor
from ledger.models import JournalEntry, Posting
from ledger.money import amount_render
from ledger.services import Leg
from operations.models import ComplianceRule, MovementCount, ReviewItem

# One entry in this many also deletes a batch of counters older than any window needs.
_COUNTER_RETENTION_MINUTES = 7 * 24 * 60

_rules_cache: tuple[float, list[ComplianceRule]] | None = None


def compliance_observe_entry(*, entry: JournalEntry, legs: Sequence[Leg]) -> list[ReviewItem]:
    """Evaluate the active rules against the user legs of `entry`; return the review items created."""
    return compliance_observe_entries(entries=[(entry, legs)])


def compliance_observe_entries(*, entries: Sequence[tuple[JournalEntry, Sequence[Leg]]]) -> list[ReviewItem]:
    """`compliance_observe_entry` for many entries posted in order (a batch), with one statement
    of counters for all of them: each entry is judged exactly as if observed alone right after
    it was posted, its velocity counts being the counters as they stood after its own movement
    (the batch's total for this minute less the movements of the entries after it)."""
    user_legs_of = [[leg for leg in legs if leg.account.user_id is not None] for _, legs in entries]
    if not any(user_legs_of):
        return []
    rules = compliance_rules_active()
    now = timezone.now()
    minute = _minute(now)
    velocity_rules = [rule for rule in rules if rule.kind == ComplianceRule.Kind.VELOCITY]
    users_of = [sorted({leg.account.user_id for leg in user_legs if leg.account.user_id is not None})
                for user_legs in user_legs_of]
    later_movements = Counter(user_id for user_ids in users_of for user_id in user_ids)
    totals = _movements_count(
        movements=dict(later_movements),
        now=now,
        window_minutes=max((rule.window_minutes for rule in velocity_rules), default=1),
    )
    items: list[ReviewItem] = []
    for (entry, _), user_legs, user_ids in zip(entries, user_legs_of, users_of, strict=True):
        if not user_legs:
            continue
        # Every rule judging the same leg needs the same value: read each currency's rate once per entry.
        values: dict[tuple[str, int], int | None] = {}
        counts: dict[int, dict[int, int]] = {}
        for user_id in user_ids:
            later_movements[user_id] -= 1
            counts[user_id] = {**totals[user_id], minute: totals[user_id][minute] - later_movements[user_id]}
        for check in _checks(kind=entry.kind, user_legs=user_legs, rules=rules, now=now, values=values):
            if isinstance(check, _VelocityCheck) and not _crossed(check, counts=counts[check.user_id]):
                continue
            items.append(
                ReviewItem.objects.create(
                    client_id=entry.client_id, user_id=check.user_id, entry=entry, rule=check.rule, detail=check.detail
                )
            )
    return items


def compliance_statement_parameters(*, kind: str, legs: Sequence[Leg], now: datetime) -> dict:
    """`compliance_observe_entry` for a movement posted in one statement on PostgreSQL
    (`ledger.services.posting_request`), as that statement's parameters: the users whose counters
    it bumps for this minute, the review items the amounts alone open, and the velocity checks it
    makes once the counters are bumped (`_crossed`, in SQL: migration ledger 0012, which works out
    each check's first minute and `since` from `now` and the rule's window as `_checks` does). The
    same rules and the same checks as entry by entry."""
    user_legs = [leg for leg in legs if leg.account.user_id is not None]
    if not user_legs:
        return {}
    checks = _checks(kind=kind, user_legs=user_legs, rules=compliance_rules_active(), now=now, values={})
    hits = [check for check in checks if isinstance(check, _Hit)]
    velocity = [check for check in checks if isinstance(check, _VelocityCheck)]
    return {
        "users": sorted({leg.account.user_id for leg in user_legs}),
        "minute": _minute(now),
        "review_users": [hit.user_id for hit in hits],
        "review_rules": [hit.rule.pk for hit in hits],
        "review_details": [hit.detail for hit in hits],
        "velocity_users": [check.user_id for check in velocity],
        "velocity_rules": [check.rule.pk for check in velocity],
        "velocity_windows": [check.rule.window_minutes for check in velocity],
        "velocity_limits": [check.rule.max_movements for check in velocity],
        "velocity_details": [check.detail for check in velocity],
    }


# The ledger hands a batch's entries to this in one call (see `entries_post`).
compliance_observe_entry.observe_many = compliance_observe_entries  # type: ignore[attr-defined]
# ... and a movement posted in one statement asks it for that statement's parameters.
compliance_observe_entry.statement_parameters = compliance_statement_parameters  # type: ignore[attr-defined]


def compliance_rules_active() -> list[ComplianceRule]:
    """The active rules, read at most once per settings.COMPLIANCE_RULES_CACHE_SECONDS per process."""
    global _rules_cache
    ttl = settings.COMPLIANCE_RULES_CACHE_SECONDS
    if ttl > 0 and _rules_cache is not None and _rules_cache[0] > time.monotonic():
        return _rules_cache[1]
    rules = list(ComplianceRule.objects.filter(is_active=True))
    _rules_cache = (time.monotonic() + ttl, rules) if ttl > 0 else None
    return rules


def _minute(moment) -> int:
    return int(moment.timestamp()) // 60


def _movements_count(*, movements: dict[int, int], now, window_minutes: int) -> dict[int, dict[int, int]]:
    """Count `movements[user_id]` movements for each user (in user-id order, so concurrent entries
    take the counter rows in one order) and return `{user_id: {minute: movements}}` for the last
    `window_minutes` minutes, these included."""
    user_ids = sorted(movements)
    minute = _minute(now)
    first = minute - window_minutes + 1
    rows_sql = ", ".join(["(%s, %s, %s)"] * len(user_ids))
    bump_params = [value for user_id in user_ids for value in (user_id, minute, movements[user_id])]
    in_sql = ", ".join(["%s"] * len(user_ids))
    bump = (
        f"INSERT INTO operations_movementcount (user_id, minute, movements) VALUES {rows_sql} "  # noqa: S608
        "ON CONFLICT (user_id, minute) DO UPDATE "
        "SET movements = operations_movementcount.movements + excluded.movements "
        "RETURNING user_id, minute, movements"
    )
    earlier = (
        f"SELECT user_id, minute, movements FROM operations_movementcount WHERE user_id IN ({in_sql}) "  # noqa: S608
        "AND minute >= %s AND minute < %s"
    )
    with prepared_cursor() as cursor:
        if connection.vendor == "postgresql":
            # The earlier minutes come from the statement's snapshot; this minute from the upsert.
            cursor.execute(
                f"WITH bumped AS ({bump}) SELECT * FROM bumped UNION ALL {earlier}",  # noqa: S608
                [*bump_params, *user_ids, first, minute],
            )
            rows = cursor.fetchall()
        else:
            cursor.execute(bump, bump_params)
            rows = cursor.fetchall()
            cursor.execute(earlier, [*user_ids, first, minute])
            rows += cursor.fetchall()
    counts: dict[int, dict[int, int]] = {user_id: {} for user_id in user_ids}
    for user_id, row_minute, movements in rows:
        counts[user_id][row_minute] = movements
    return counts


def movement_counts_purge() -> int:
    """Delete per-minute counters older than any velocity window may reach (worker housekeeping,
    `WORKER_HOUSEKEEPING`: never on the posting path). Returns how many."""
    cutoff = _minute(timezone.now()) - _COUNTER_RETENTION_MINUTES
    deleted, _ = MovementCount.objects.filter(minute__lt=cutoff).delete()
    return deleted


@dataclass(frozen=True)
class _Hit:
    """A review item the movement opens, decided before it is posted."""

    user_id: int
    rule: ComplianceRule
    detail: str


@dataclass(frozen=True)
class _VelocityCheck:
    """A review item the movement opens if it is the one that crosses the rule's limit: its
    window's movements (minutes from `first_minute` on) come to the limit plus one, and no item
    of this user and rule was opened since `since`."""

    user_id: int
    rule: ComplianceRule
    first_minute: int
    since: datetime
    detail: str


def _checks(
    *, kind: str, user_legs: Sequence[Leg], rules: Sequence[ComplianceRule], now: datetime,
    values: dict[tuple[str, int], int | None],
) -> list[_Hit | _VelocityCheck]:
    """What `rules` make of a movement of `kind` on `user_legs`, rule by rule, leg by leg: at most
    one item per user and rule. `values` holds the settlement values already read."""
    checks: list[_Hit | _VelocityCheck] = []
    for rule in rules:
        seen_users: set[int] = set()
        for leg in user_legs:
            user_id = leg.account.user_id
            if user_id in seen_users or (rule.currency_id and rule.currency_id != leg.account.currency_id):
                continue
            if rule.kind == ComplianceRule.Kind.VELOCITY:
                # Every leg of a user sees the same counters: one check per user. Only the movement
                # that crosses the limit opens an item (not every one after it), and one item per
                # user per window: the queue should show a pattern once, not every movement.
                seen_users.add(user_id)
                checks.append(
                    _VelocityCheck(
                        user_id=user_id, rule=rule, first_minute=_minute(now) - rule.window_minutes + 1,
                        since=now - timedelta(minutes=rule.window_minutes),
                        detail=(f"{rule.max_movements + 1} movements in {rule.window_minutes} minutes "
                                f"(allowed {rule.max_movements})"),
                    )
                )
                continue
            detail = _judged(rule=rule, kind=kind, leg=leg, now=now, values=values)
            if detail is not None:
                seen_users.add(user_id)
                checks.append(_Hit(user_id=user_id, rule=rule, detail=detail[:500]))
    return checks


def _crossed(check: _VelocityCheck, *, counts: dict[int, int]) -> bool:
    """Whether the movement whose user's counters are `counts` ({minute: movements}) crosses the
    check's limit, with no item of the same user and rule in the window yet."""
    movements = sum(count for minute, count in counts.items() if minute >= check.first_minute)
    if movements != check.rule.max_movements + 1:
        return False
    return not ReviewItem.objects.filter(user_id=check.user_id, rule=check.rule, created_at__gte=check.since).exists()


def _judged(
    *, rule: ComplianceRule, kind: str, leg: Leg, now: datetime, values: dict[tuple[str, int], int | None]
) -> str | None:
    """The detail of the item a large-movement or withdrawal-after-deposit rule opens for `leg`."""
    user_id = leg.account.user_id
    since = now - timedelta(minutes=rule.window_minutes)
    if rule.kind == ComplianceRule.Kind.LARGE_MOVEMENT:
        if _is_large(rule=rule, currency_code=leg.account.currency_id, amount=abs(leg.amount), values=values):
            moved = amount_render(abs(leg.amount), currency=leg.account.currency)
            return f"{kind} of {moved} exceeds the threshold"
        return None
    if rule.kind == ComplianceRule.Kind.WITHDRAWAL_AFTER_DEPOSIT:
        if kind != JournalEntry.Kind.WITHDRAWAL or leg.amount >= 0:
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
            if _is_large(rule=rule, currency_code=currency_code, amount=amount, values=values):
                return f"withdrawal within {rule.window_minutes} minutes of large deposit #{deposit_id}"
        return None
    return None


def _is_large(
    *, rule: ComplianceRule, currency_code: str, amount: int, values: dict[tuple[str, int], int | None]
) -> bool:
    # Value in the settlement currency when a rate is known; the per-currency threshold in minor
    # units only when it is not, so one movement is never judged twice by the same rule.
    # `values` holds the values already read for this entry.
    if (currency_code, amount) not in values:
        values[currency_code, amount] = settlement_value(currency_code=currency_code, amount=amount)
    value = values[currency_code, amount]
    if value is not None:
        return rule.threshold_usd is not None and value > rule.threshold_usd
    return rule.threshold_minor is not None and rule.currency_id == currency_code and amount > rule.threshold_minor
