"""A movement that is an API request's whole effect, in one statement on PostgreSQL.

`entry_post` hands an entry here when the request offered its `Idempotency-Key` claim
(`core.claims`, `@idempotent(reply_to_entry=…)`). One call of `ledger_entry_post_request`
(migration 0012), in autocommit, then claims the key, posts the entry, bumps the users' movement
counters and opens the review items the compliance rules call for, writes the
`transaction.created` event with its deliveries, stores the reply, and commits as it ends: the
account rows are locked for that one round trip and nothing else.

Some of what the event and the reply show only the statement knows: the entry's id and time, each
posting's sequence and running balance. Both are rendered here beforehand, by the same renderers
as always, from a stand-in entry whose unknown values are sentinels: numbers drawn at random per
call (the caller cannot know them, so no metadata can imitate one), each distinct from and not
contained in another. The statement replaces each sentinel's text by the value's text, written as
the renderers write it (`ledger_text_timestamp`, `ledger_text_minor_units`). A renderer that wrote
a sentinel any other way would leave it in the text: that is refused before anything is sent.
"""

import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.claims import ClaimBusy, ClaimTaken, OfferedClaim
from core.prepared import prepared_cursor
from events.models import Event, event_public_id
from events.services import delivery_schedule, event_data
from ledger.models import Hold, JournalEntry, Posting
from ledger.money import from_minor_units
from ledger.services.legs import AccountUpdate, Leg, legs_share_currencies, posted_for_rendering, postings_remember
from ledger.services.posting_postgresql import GUARD_CODES, built_from_row, refusal_from

# Each parameter of `ledger_entry_post_request`, in order, with its type.
_PARAMETERS = (
    ("now", ""), ("scope", ""), ("key", ""), ("request_hash", ""), ("lock_id", "bigint"),
    ("expires_at", "timestamptz"), ("status_code", "integer"), ("content_type", ""), ("reply", "text"),
    ("client_id", "bigint"), ("kind", "text"), ("reference", "text"), ("metadata", "jsonb"),
    ("reverses_id", "bigint"), ("accounts", "bigint[]"), ("deltas", "bigint[]"), ("released", "bigint[]"),
    ("counts", "integer[]"), ("guards", "smallint[]"), ("bounds", "bigint[]"), ("leg_accounts", "bigint[]"),
    ("leg_amounts", "bigint[]"), ("captured_holds", "bigint[]"), ("sentinel_id", "text"),
    ("sentinel_at", "text"), ("sentinel_sequences", "text[]"), ("sentinel_balances", "text[]"),
    ("leg_scales", "integer[]"), ("event_public_id", "text"), ("event_type", "text"), ("event_data", "text"),
    ("users", "bigint[]"), ("minute", "bigint"), ("review_users", "bigint[]"), ("review_rules", "bigint[]"),
    ("review_details", "text[]"), ("velocity_users", "bigint[]"), ("velocity_rules", "bigint[]"),
    ("velocity_windows", "integer[]"), ("velocity_limits", "integer[]"), ("velocity_details", "text[]"),
)
# Integer arrays go as array literals: psycopg's list adapter was about half of the time spent
# adapting the call's parameters (profiled).
_INTEGER_ARRAYS = frozenset(name for name, cast in _PARAMETERS if cast in ("bigint[]", "integer[]", "smallint[]"))
_ENTRY_POST_REQUEST = "SELECT * FROM ledger_entry_post_request({})".format(  # noqa: S608  # fixed names
    ", ".join(f"%({name})s::{cast}" if cast else f"%({name})s" for name, cast in _PARAMETERS)
)
# What the statement writes when no observer reviews the movement.
_NOT_REVIEWED = {
    "users": [], "minute": 0, "review_users": [], "review_rules": [], "review_details": [],
    "velocity_users": [], "velocity_rules": [], "velocity_windows": [], "velocity_limits": [], "velocity_details": [],
}


def entry_post_request(
    *, claim: OfferedClaim, entry_fields: dict, updates: list[AccountUpdate], legs: Sequence[Leg],
    captured_holds: Sequence[Hold], observers: Sequence,
) -> JournalEntry:
    """Post the entry, its event, its review and the request's reply in one statement (see the
    module docstring); return the entry, carrying its postings (`postings_remember`).

    Raises ClaimTaken or ClaimBusy when the key was not free (nothing written), the ledger's
    domain errors when it refused the entry (nothing written either), ImproperlyConfigured when an
    observer cannot say what it writes as the statement's parameters."""
    now = timezone.now()
    legs_share_currencies(legs)
    sentinels = _Sentinels.drawn(legs)
    stand_in, stand_in_postings = built_from_row(entry_fields, legs, sentinels.row())
    postings_remember(entry=stand_in, postings=stand_in_postings)
    posted_for_rendering(stand_in, legs=legs)
    status_code, reply_text, content_type = claim.reply(stand_in)
    event_text = event_data(stand_in, legs=legs)
    sentinels.check(reply_text or "")
    sentinels.check(event_text)
    metadata = JournalEntry._meta.get_field("metadata").get_db_prep_value(entry_fields["metadata"], connection)
    reverses = entry_fields["reverses"]
    guards = [update.guard for update in updates]
    parameters = {
        "now": now, "scope": claim.scope, "key": claim.key, "request_hash": claim.request_hash,
        "lock_id": claim.lock_id, "expires_at": claim.expires_at, "status_code": status_code,
        "content_type": content_type, "reply": reply_text,
        "client_id": entry_fields["client_id"], "kind": entry_fields["kind"], "reference": entry_fields["reference"],
        "metadata": metadata, "reverses_id": reverses.pk if reverses is not None else None,
        "accounts": [update.account_id for update in updates], "deltas": [update.amount for update in updates],
        "released": [update.released for update in updates], "counts": [update.postings for update in updates],
        "guards": [GUARD_CODES[guard] for guard, _ in guards], "bounds": [bound for _, bound in guards],
        "leg_accounts": [leg.account.pk for leg in legs], "leg_amounts": [leg.amount for leg in legs],
        "captured_holds": [hold.pk for hold in captured_holds],
        **sentinels.parameters(),
        "leg_scales": [leg.account.currency.scale for leg in legs],
        "event_public_id": event_public_id(), "event_type": Event.Type.TRANSACTION_CREATED, "event_data": event_text,
        **_reviewed(observers, kind=entry_fields["kind"], legs=legs, now=now),
    }
    try:
        row = _execute(parameters)
    except DatabaseError as error:
        raise refusal_from(error, updates) from None
    outcome, *posted, delivery_ids, stored_body = row
    if outcome == "taken":
        raise ClaimTaken()
    if outcome == "busy":
        raise ClaimBusy()
    claim.stored_reply = (status_code, stored_body, content_type)
    for hold in captured_holds:
        hold.status = Hold.Status.CAPTURED
    if delivery_ids:
        delivery_schedule(delivery_ids=delivery_ids)
    return _posted(stand_in, stand_in_postings, tuple(posted))


def _posted(entry: JournalEntry, postings: list[Posting], row: tuple) -> JournalEntry:
    """The stand-in entry and its (remembered) postings, given what `ledger_entry_post` returned
    for the real ones, become them: what `built_from_row` builds, without building every instance
    again."""
    entry_id, created_at, posting_ids, sequences, balances, helds = row
    entry.id, entry.created_at = entry_id, created_at
    for posting, posting_id, sequence, balance_after, held_after in zip(
        postings, posting_ids, sequences, balances, helds, strict=True
    ):
        posting.entry = entry  # again: its entry_id was the stand-in's
        posting.id, posting.sequence, posting.posted_at = posting_id, sequence, created_at
        posting.balance_after, posting.held_after = balance_after, held_after
    return entry


def _execute(parameters: dict) -> tuple:
    """The call, in autocommit as in production; nested in a caller's transaction (a test's), in a
    savepoint, so a refusal leaves that transaction usable as autocommit would."""
    for name in _INTEGER_ARRAYS:
        parameters[name] = "{" + ",".join(str(int(value)) for value in parameters[name]) + "}"
    nested = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with nested, prepared_cursor() as cursor:
        cursor.execute(_ENTRY_POST_REQUEST, parameters)
        return cursor.fetchone()


def _reviewed(observers: Sequence, *, kind: str, legs: Sequence[Leg], now: datetime) -> dict:
    """The observers' part of the statement: each says, as parameters, what it would write."""
    parameters = dict(_NOT_REVIEWED)
    for observer in observers:
        statement_parameters = getattr(observer, "statement_parameters", None)
        if statement_parameters is None:
            raise ImproperlyConfigured(
                f"{observer.__module__}.{observer.__qualname__} has no statement_parameters: a movement posted in "
                "one statement cannot run it."
            )
        parameters.update(statement_parameters(kind=kind, legs=legs, now=now))
    return parameters


@dataclass(frozen=True)
class _Sentinels:
    """Stand-ins for what only the statement knows, and the text each is rendered as (`texts`:
    the id, the time, then per leg its sequence, then per leg its running balance)."""

    base: int
    moment: datetime
    scales: tuple[int, ...]
    texts: tuple[str, ...] = ()

    @classmethod
    def drawn(cls, legs: Sequence[Leg]) -> "_Sentinels":
        scales = tuple(leg.account.currency.scale for leg in legs)
        while True:
            random = secrets.randbits(64)
            moment = datetime(
                2100 + random % 7000, 1 + (random >> 13) % 12, 1 + (random >> 17) % 28, (random >> 22) % 24,
                (random >> 27) % 60, (random >> 33) % 60, 1 + (random >> 39) % 999_999, tzinfo=UTC,
            )
            drawn = cls(base=10**11 + secrets.randbelow(9 * 10**11), moment=moment, scales=scales)
            texts = drawn._written()
            if not any(one != other and one in other for one in texts for other in texts):
                return cls(base=drawn.base, moment=moment, scales=scales, texts=texts)

    @property
    def entry_id(self) -> int:
        return int(f"{self.base}00")

    def sequence(self, position: int) -> int:
        return int(f"{self.base}1{position:02d}")

    def balance(self, position: int) -> int:
        return int(f"{self.base}2{position:02d}")

    def row(self) -> tuple:
        """The stand-in entry's row, as `ledger_entry_post` returns it."""
        positions = range(len(self.scales))
        return (self.entry_id, self.moment, [None for _ in positions], [self.sequence(p) for p in positions],
                [self.balance(p) for p in positions], [0 for _ in positions])

    def parameters(self) -> dict:
        texts, count = self.texts, len(self.scales)
        return {"sentinel_id": texts[0], "sentinel_at": texts[1], "sentinel_sequences": list(texts[2:2 + count]),
                "sentinel_balances": list(texts[2 + count:])}

    def _written(self) -> tuple[str, ...]:
        """How the renderers write each sentinel."""
        moment = self.moment.isoformat()
        moment = moment[:-6] + "Z" if moment.endswith("+00:00") else moment
        return (
            str(self.entry_id), moment,
            *(str(self.sequence(position)) for position in range(len(self.scales))),
            *(from_minor_units(self.balance(position), scale=scale) for position, scale in enumerate(self.scales)),
        )

    def check(self, rendered: str) -> None:
        """Refuse a rendering that writes a sentinel in a form the statement would not replace."""
        remainder = rendered
        for text in self.texts:
            remainder = remainder.replace(text, "")
        if str(self.base) in remainder or self.moment.strftime("%Y-%m-%d") in remainder:
            raise ImproperlyConfigured("A renderer wrote a value only the statement knows in a form it cannot fill in.")
