"""Withdrawals above WITHDRAWAL_REVIEW_THRESHOLD_USD wait for Compliance: the amount is held at
the request, and the hold is captured (approve) or released (reject) exactly once."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from accounts.services import api_key_create, user_freeze
from audit.models import AuditEvent
from core.errors import DomainError
from ledger.models import Account, Hold, JournalEntry
from operations.models import PendingWithdrawal, ReviewItem
from operations.services import review_item_resolve, withdrawal_approve, withdrawal_reject, withdrawal_request
from tests.factories import open_account
from tests.fixtures import balance, ledger_snapshot

THRESHOLD = 50_000  # USD 500.00
HELD = 60_000  # USD 600.00, above the threshold; Alice holds 1,000.00

WITHDRAWALS_URL = "/api/v1/withdrawals/"


@pytest.fixture
def review_on(settings):
    settings.WITHDRAWAL_REVIEW_THRESHOLD_USD = THRESHOLD


@pytest.fixture
def api_auth(tenant) -> dict:
    _, plaintext = api_key_create(client=tenant, name="test")
    return {"HTTP_AUTHORIZATION": f"Api-Key {plaintext}"}


@pytest.fixture
def pending(review_on, alice_usd) -> PendingWithdrawal:
    return withdrawal_request(account=alice_usd, amount=HELD, reference="payout-1")


def withdraw(api, auth: dict, account: Account, amount: str, **headers):
    return api.post(WITHDRAWALS_URL, {"account": account.pk, "amount": amount}, format="json", **auth, **headers)


def withdrawal_entries() -> int:
    return JournalEntry.objects.filter(kind=JournalEntry.Kind.WITHDRAWAL).count()


def approve(*, pending, actor):
    return withdrawal_approve(pending=pending, actor=actor)


def reject(*, pending, actor):
    return withdrawal_reject(pending=pending, actor=actor, reason="source of funds unclear")


# --- The endpoint


def test_withdrawal_up_to_the_threshold_leaves_at_once(review_on, api, api_auth, alice_usd):
    # when Alice withdraws exactly the threshold (review is for amounts above it)
    response = withdraw(api, api_auth, alice_usd, "500.00")
    # then it is an ordinary withdrawal
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "500.00"
    assert balance(alice_usd) == (50_000, 0)
    assert not PendingWithdrawal.objects.exists()


def test_withdrawal_above_the_threshold_is_held_for_review(review_on, api, api_auth, alice_usd):
    # when Alice withdraws 600.00
    response = withdraw(api, api_auth, alice_usd, "600.00")
    # then it waits: balance unchanged, 600.00 no longer available, no withdrawal entry yet
    assert response.status_code == 202, response.content
    body = response.json()
    pending = PendingWithdrawal.objects.get()
    assert body["id"] == pending.pk
    assert body["status"] == "pending_review"
    assert body["account"] == alice_usd.pk
    assert body["amount"] == "600.00"
    assert body["transaction"] is None
    assert balance(alice_usd) == (100_000, HELD)
    assert withdrawal_entries() == 0
    assert pending.hold.status == Hold.Status.ACTIVE and pending.hold.amount == HELD
    item = ReviewItem.objects.get(withdrawal=pending)
    assert item.status == ReviewItem.Status.OPEN and item.entry is None and item.rule is None


def test_held_withdrawal_retried_with_its_idempotency_key_is_held_once(review_on, api, api_auth, alice_usd):
    first = withdraw(api, api_auth, alice_usd, "600.00", HTTP_IDEMPOTENCY_KEY="wd-1")
    again = withdraw(api, api_auth, alice_usd, "600.00", HTTP_IDEMPOTENCY_KEY="wd-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PendingWithdrawal.objects.count() == 1
    assert balance(alice_usd) == (100_000, HELD)


def test_held_withdrawal_beyond_available_funds_changes_nothing(review_on, api, api_auth, alice_usd):
    before = ledger_snapshot()
    response = withdraw(api, api_auth, alice_usd, "1000.01")
    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_funds"
    assert ledger_snapshot() == before
    assert not PendingWithdrawal.objects.exists() and not ReviewItem.objects.exists()


def test_with_the_setting_off_every_withdrawal_leaves_at_once(settings, api, api_auth, alice_usd):
    settings.WITHDRAWAL_REVIEW_THRESHOLD_USD = 0
    response = withdraw(api, api_auth, alice_usd, "900.00")
    assert response.status_code == 201
    assert balance(alice_usd) == (10_000, 0)
    assert not PendingWithdrawal.objects.exists()


def test_withdrawal_in_a_currency_without_a_rate_is_not_held(review_on, api, api_auth, alice):
    # given BTC with no rate: its value is unknown, so the review threshold cannot apply
    btc = open_account(alice, "BTC", deposit=2_00000000)
    response = withdraw(api, api_auth, btc, "1.00000000")
    assert response.status_code == 201
    assert not PendingWithdrawal.objects.exists()


def test_the_client_reads_its_held_withdrawal_and_its_outcome(pending, compliance_user, api, api_auth):
    url = f"/api/v1/pending-withdrawals/{pending.pk}/"
    assert api.get(url, **api_auth).json()["status"] == "pending_review"
    withdrawal_approve(pending=pending, actor=compliance_user)
    body = api.get(url, **api_auth).json()
    assert body["status"] == "approved"
    assert body["transaction"] == PendingWithdrawal.objects.get().entry_id
    assert "reason" not in body  # Compliance's reasons stay internal
    assert [row["id"] for row in api.get("/api/v1/pending-withdrawals/", **api_auth).json()["results"]] == [
        pending.pk
    ]


def test_another_client_cannot_see_or_affect_held_withdrawals(pending, api, other_tenant, alice_usd):
    # given Alice's held withdrawal, and another client's API key
    before = ledger_snapshot()
    # when that client reads it, lists, or withdraws from Alice's account
    detail = api.get(f"/api/v1/pending-withdrawals/{pending.pk}/", **other_tenant.auth)
    listed = api.get("/api/v1/pending-withdrawals/", **other_tenant.auth)
    response = withdraw(api, other_tenant.auth, alice_usd, "600.00")
    # then it does not exist for them, and nothing moved
    assert detail.status_code == 404
    assert listed.status_code == 200 and listed.json()["results"] == []
    assert response.status_code == 404
    assert ledger_snapshot() == before
    assert PendingWithdrawal.objects.count() == 1


def test_held_withdrawals_need_credentials(pending, api):
    assert api.get(f"/api/v1/pending-withdrawals/{pending.pk}/").status_code == 401
    assert api.get("/api/v1/pending-withdrawals/").status_code == 401


# --- Decisions


@pytest.mark.parametrize("decider", ["compliance_user", "superuser"])
def test_approval_posts_one_withdrawal_that_consumes_the_hold(request, pending, alice_usd, decider):
    actor = request.getfixturevalue(decider)
    # when Compliance approves
    withdrawal_approve(pending=pending, actor=actor)
    # then exactly one withdrawal entry moved the money out, and nothing is held any more
    pending.refresh_from_db()
    assert pending.status == PendingWithdrawal.Status.APPROVED
    assert pending.decided_by == actor and pending.decided_at is not None
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.WITHDRAWAL)
    assert pending.entry == entry
    funding = Account.objects.get(client=alice_usd.client, currency="USD", kind=Account.Kind.FUNDING)
    assert sorted(entry.postings.values_list("account_id", "amount")) == sorted(
        [(alice_usd.pk, -HELD), (funding.pk, HELD)]
    )
    assert entry.reference == "payout-1"
    assert balance(alice_usd) == (100_000 - HELD, 0)
    assert Hold.objects.get(pk=pending.hold_id).status == Hold.Status.CAPTURED
    assert ReviewItem.objects.get(withdrawal=pending).status == ReviewItem.Status.CLEARED
    event = AuditEvent.objects.get(action="operations.withdrawal_approved")
    assert event.actor == actor and event.after["entry"] == entry.pk


def test_rejection_releases_the_hold_and_moves_no_money(pending, compliance_user, alice_usd):
    withdrawal_reject(pending=pending, actor=compliance_user, reason="source of funds unclear")
    pending.refresh_from_db()
    assert pending.status == PendingWithdrawal.Status.REJECTED
    assert pending.entry is None and pending.reason == "source of funds unclear"
    assert balance(alice_usd) == (100_000, 0)
    assert withdrawal_entries() == 0
    assert Hold.objects.get(pk=pending.hold_id).status == Hold.Status.RELEASED
    assert ReviewItem.objects.get(withdrawal=pending).status == ReviewItem.Status.CLEARED
    event = AuditEvent.objects.get(action="operations.withdrawal_rejected")
    assert event.actor == compliance_user and event.after["reason"] == "source of funds unclear"


@pytest.mark.parametrize("first", [approve, reject], ids=["approved", "rejected"])
@pytest.mark.parametrize("second", [approve, reject], ids=["then_approve", "then_reject"])
def test_a_second_decision_is_refused_and_changes_nothing(pending, compliance_user, alice_usd, first, second):
    # given a decided withdrawal
    first(pending=pending, actor=compliance_user)
    before = ledger_snapshot()
    audit_events = AuditEvent.objects.count()
    decided = PendingWithdrawal.objects.values("status", "entry", "decided_at").get()
    # when anyone decides it again
    with pytest.raises(DomainError) as refused:
        second(pending=pending, actor=compliance_user)
    # then 409 withdrawal_decided, and balances, holds, journal and the decision are as they were
    assert (refused.value.status, refused.value.code) == (409, "withdrawal_decided")
    assert ledger_snapshot() == before
    assert AuditEvent.objects.count() == audit_events
    assert PendingWithdrawal.objects.values("status", "entry", "decided_at").get() == decided


@pytest.mark.parametrize("role", ["operations_user", "read_only_user"])
@pytest.mark.parametrize("decide", [approve, reject], ids=["approve", "reject"])
def test_only_compliance_may_decide(request, pending, role, decide):
    actor = request.getfixturevalue(role)
    before = ledger_snapshot()
    with pytest.raises(DomainError) as refused:
        decide(pending=pending, actor=actor)
    assert (refused.value.status, refused.value.code) == (403, "permission_denied")
    assert ledger_snapshot() == before
    assert PendingWithdrawal.objects.get().status == PendingWithdrawal.Status.PENDING_REVIEW
    assert not AuditEvent.objects.exists()


def test_approval_refused_for_a_frozen_user_leaves_the_request_pending(pending, compliance_user, alice, alice_usd):
    # given the user was frozen while the request waited
    user_freeze(user=alice, actor=compliance_user, reason="investigation")
    before = ledger_snapshot()
    # when Compliance approves, then it is refused and nothing moves
    with pytest.raises(DomainError) as refused:
        withdrawal_approve(pending=pending, actor=compliance_user)
    assert refused.value.code == "user_frozen"
    assert ledger_snapshot() == before
    assert PendingWithdrawal.objects.get().status == PendingWithdrawal.Status.PENDING_REVIEW
    # and rejecting still makes the held amount available again
    withdrawal_reject(pending=pending, actor=compliance_user, reason="user frozen")
    assert balance(alice_usd) == (100_000, 0)


def test_the_review_item_of_a_held_withdrawal_closes_only_with_the_decision(pending, compliance_user):
    item = ReviewItem.objects.get(withdrawal=pending)
    with pytest.raises(DomainError) as refused:
        review_item_resolve(actor=compliance_user, item=item, status=ReviewItem.Status.CLEARED)
    assert refused.value.status == 409
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.OPEN


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_approve_and_reject_racing_decide_exactly_once(requires_postgres, compliance_user, alice_usd):
    # given a held withdrawal, committed, and two Compliance officers deciding it at once
    pending = withdrawal_request(account=alice_usd, amount=HELD)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name: str, decide) -> None:
        try:
            barrier.wait()
            decide(pending=PendingWithdrawal.objects.get(pk=pending.pk), actor=compliance_user)
            outcomes[name] = "won"
        except DomainError as error:
            outcomes[name] = error.code
        except Exception as error:  # noqa: BLE001 - an unexpected failure fails the test below
            outcomes[name] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in (("approve", approve), ("reject", reject))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one decision applied, and the ledger matches it
    assert sorted(map(str, outcomes.values())) == ["withdrawal_decided", "won"], outcomes
    pending.refresh_from_db()
    if outcomes["approve"] == "won":
        assert pending.status == PendingWithdrawal.Status.APPROVED
        assert balance(alice_usd) == (100_000 - HELD, 0)
        assert withdrawal_entries() == 1
    else:
        assert pending.status == PendingWithdrawal.Status.REJECTED
        assert balance(alice_usd) == (100_000, 0)
        assert withdrawal_entries() == 0
    assert AuditEvent.objects.filter(action__startswith="operations.withdrawal_").count() == 1


# --- Admin


def changelist_url() -> str:
    return reverse("admin:operations_pendingwithdrawal_changelist")


def admin_decide(client, action: str, pending: PendingWithdrawal):
    return client.post(changelist_url(), {"action": action, "_selected_action": [pending.pk]})


@pytest.mark.parametrize(
    ("action", "status", "held_after", "balance_after"),
    [
        ("approve_withdrawals", PendingWithdrawal.Status.APPROVED, 0, 100_000 - HELD),
        ("reject_withdrawals", PendingWithdrawal.Status.REJECTED, 0, 100_000),
    ],
)
def test_compliance_decides_from_admin(
    client, compliance_user, pending, alice_usd, action, status, held_after, balance_after
):
    client.force_login(compliance_user)
    response = admin_decide(client, action, pending)
    assert response.status_code == 302
    assert PendingWithdrawal.objects.get().status == status
    assert balance(alice_usd) == (balance_after, held_after)


@pytest.mark.parametrize("role", ["operations_user", "read_only_user"])
@pytest.mark.parametrize("action", ["approve_withdrawals", "reject_withdrawals"])
def test_other_roles_cannot_decide_from_admin(request, client, pending, role, action):
    client.force_login(request.getfixturevalue(role))
    # the actions are not offered to them
    listed = client.get(changelist_url())
    assert listed.status_code == 200
    action_form = listed.context["action_form"]
    assert action_form is None or action not in dict(action_form.fields["action"].choices)
    # and posting one anyway changes nothing
    before = ledger_snapshot()
    admin_decide(client, action, pending)
    assert ledger_snapshot() == before
    assert PendingWithdrawal.objects.get().status == PendingWithdrawal.Status.PENDING_REVIEW
    assert not AuditEvent.objects.exists()
