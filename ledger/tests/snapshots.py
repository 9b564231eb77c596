"""What a rejected ledger operation must leave untouched, as one comparable value."""

from contextlib import contextmanager

import pytest

from core.errors import DomainError
from ledger.models import Account, Hold, JournalEntry, Posting


def ledger_state() -> dict:
    """Every balance and hold, and the size of the journal: equal before and after a rejection."""
    return {
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "balance", "held", "is_active")),
        "entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "holds": list(Hold.objects.order_by("pk").values_list("pk", "status")),
    }


def balance_and_held(account: Account) -> tuple[int, int]:
    """The account's (balance, held) as stored now, not as cached on the instance."""
    return Account.objects.values_list("balance", "held").get(pk=account.pk)


@contextmanager
def rejected_with(code: str):
    """Expect a DomainError with `code` and no change at all to balances, holds or the journal."""
    before = ledger_state()
    with pytest.raises(DomainError) as caught:
        yield caught
    assert caught.value.code == code, f"expected {code!r}, got {caught.value.code!r}: {caught.value}"
    assert ledger_state() == before
