"""ledger.services.adjustment_create: balanced, reasoned, audited, and refused without changes."""

import pytest

from audit.models import AuditEvent
from ledger.errors import InsufficientFundsError, InvalidAmountError
from ledger.models import Account, JournalEntry
from ledger.services import adjustment_create, system_account_get
from ledger.services.adjustments import ReasonRequiredError
from ledger.verification import ledger_verify
from tests.fixtures import ledger_snapshot


def test_credit_is_booked_against_the_funding_account(operations_user, alice_usd):
    entry = adjustment_create(account=alice_usd, amount=500, reason="goodwill", actor=operations_user)
    funding = system_account_get(client=alice_usd.client_id, currency="USD", kind=Account.Kind.FUNDING)
    assert entry.kind == JournalEntry.Kind.ADJUSTMENT
    assert dict(entry.postings.values_list("account_id", "amount")) == {alice_usd.pk: 500, funding.pk: -500}
    assert entry.metadata["reason"] == "goodwill"
    assert ledger_verify(record=False).is_ok
    assert AuditEvent.objects.get(action="ledger.adjustment_create").actor == operations_user


def test_debit_reduces_the_balance(operations_user, alice_usd):
    adjustment_create(account=alice_usd, amount=-500, reason="duplicate credit", actor=operations_user)
    alice_usd.refresh_from_db()
    assert alice_usd.balance == 100_000 - 500


@pytest.mark.parametrize(
    ("amount", "reason", "error"),
    [
        (500, "", ReasonRequiredError),
        (500, "  ", ReasonRequiredError),
        (0, "reason", InvalidAmountError),
        (True, "reason", InvalidAmountError),
        (-100_001, "reason", InsufficientFundsError),
    ],
)
def test_refused_adjustments_change_nothing(operations_user, alice_usd, amount, reason, error):
    before = ledger_snapshot()
    with pytest.raises(error):
        adjustment_create(account=alice_usd, amount=amount, reason=reason, actor=operations_user)
    assert ledger_snapshot() == before
    assert not AuditEvent.objects.exists()


def test_the_funding_account_itself_cannot_be_adjusted(operations_user, alice_usd):
    funding = system_account_get(client=alice_usd.client_id, currency="USD", kind=Account.Kind.FUNDING)
    before = ledger_snapshot()
    with pytest.raises(InvalidAmountError):
        adjustment_create(account=funding, amount=5, reason="x", actor=operations_user)
    assert ledger_snapshot() == before
