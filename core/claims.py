"""An `Idempotency-Key` claim offered to the statement that makes a request's effect.

`core.api.idempotency` usually claims the key in a transaction of its own around the handler.
A handler whose one write is a single journal entry may instead have the key claimed, the entry
posted and the reply stored by one statement (`@idempotent(reply_to_entry=…)`, PostgreSQL): the
decorator offers the claim while the handler runs, in autocommit, and the ledger takes it
(`ledger.services.posting_request`). This module is what the two share, so the ledger need not
know the API layer: the offered claim, and how the statement says the key was not free.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class ClaimTaken(Exception):
    """A committed record for the key exists (its outcome is replayed)."""


class ClaimBusy(Exception):
    """Another request holds the key right now (waited for, then replayed or refused)."""


@dataclass
class OfferedClaim:
    """The record the statement writes for the key: who, which request, until when, and the answer
    to the effect (`reply(entry)`: status code, body as stored, content type). `stored_reply` is
    set once the statement committed: the answer as it stored it, which is the one to send."""

    scope: str
    key: str
    request_hash: str
    lock_id: int
    expires_at: datetime
    reply: Callable[[Any], tuple[int, str | None, str]]
    stored_reply: tuple[int, str | None, str] | None = None

    @property
    def stored(self) -> bool:
        return self.stored_reply is not None


_offered: ContextVar[OfferedClaim | None] = ContextVar("offered_claim", default=None)


@contextmanager
def claim_offered(claim: OfferedClaim) -> Iterator[OfferedClaim]:
    """Offer `claim` to the statement the code inside makes (at most one takes it)."""
    token = _offered.set(claim)
    try:
        yield claim
    finally:
        _offered.reset(token)


def claim_take() -> OfferedClaim | None:
    """The offered claim, which no later statement of this request may take again; None if none."""
    claim = _offered.get()
    if claim is not None:
        _offered.set(None)
    return claim
