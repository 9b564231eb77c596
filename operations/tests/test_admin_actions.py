"""Back-office actions through admin, as each role: money only through services, audited."""

import pytest
from django.urls import reverse

from accounts.models import ApiKey
from audit.models import AuditEvent
from ledger.models import Account, JournalEntry
from ledger.services import transfer_create
from tests.fixtures import ledger_snapshot


def adjust_url(account):
    return reverse("admin:ledger_account_adjust", args=[account.pk])


def test_operations_posts_an_adjustment_with_a_reason(client, operations_user, alice_usd):
    # given an Operations user
    client.force_login(operations_user)
    # when they credit 12.34 with a reason
    response = client.post(adjust_url(alice_usd), {"direction": "credit", "amount": "12.34", "reason": "chargeback"})
    # then one balanced adjustment entry is posted and audited with the reason
    assert response.status_code == 302
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.ADJUSTMENT)
    assert sorted(entry.postings.values_list("amount", flat=True)) == [-1234, 1234]
    alice_usd.refresh_from_db()
    assert alice_usd.balance == 100_000 + 1234
    event = AuditEvent.objects.get(action="ledger.adjustment_create")
    assert event.actor == operations_user
    assert event.after["reason"] == "chargeback"
    assert event.before["balance"] == 100_000 and event.after["balance"] == 101_234


def test_adjustment_without_a_reason_changes_nothing(client, operations_user, alice_usd):
    client.force_login(operations_user)
    before = ledger_snapshot()
    response = client.post(adjust_url(alice_usd), {"direction": "credit", "amount": "1.00", "reason": "   "})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert ledger_snapshot() == before
    assert not AuditEvent.objects.exists()


def test_debit_beyond_available_is_refused_and_changes_nothing(client, operations_user, alice_usd):
    client.force_login(operations_user)
    before = ledger_snapshot()
    response = client.post(adjust_url(alice_usd), {"direction": "debit", "amount": "1000.01", "reason": "fix"})
    assert response.status_code == 200
    assert "insufficient_funds" in str(response.context["form"].non_field_errors())
    assert ledger_snapshot() == before
    assert not AuditEvent.objects.exists()


def test_amount_with_too_many_decimals_is_refused(client, operations_user, alice_usd):
    client.force_login(operations_user)
    before = ledger_snapshot()
    response = client.post(adjust_url(alice_usd), {"direction": "credit", "amount": "0.001", "reason": "fix"})
    assert "amount" in response.context["form"].errors
    assert ledger_snapshot() == before


@pytest.mark.parametrize("role_fixture", ["compliance_user", "read_only_user"])
def test_only_operations_may_post_adjustments(request, client, role_fixture, alice_usd):
    client.force_login(request.getfixturevalue(role_fixture))
    before = ledger_snapshot()
    assert client.get(adjust_url(alice_usd)).status_code == 403
    response = client.post(adjust_url(alice_usd), {"direction": "credit", "amount": "5.00", "reason": "x"})
    assert response.status_code == 403
    assert ledger_snapshot() == before


def test_balances_and_journal_are_read_only_even_for_superusers(client, superuser, alice_usd):
    client.force_login(superuser)
    entry = JournalEntry.objects.first()
    before = ledger_snapshot()
    response = client.post(reverse("admin:ledger_account_change", args=[alice_usd.pk]), {"balance": "1"})
    assert response.status_code == 403
    assert client.post(reverse("admin:ledger_journalentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:ledger_account_add")).status_code == 403
    assert ledger_snapshot() == before
    # the pages themselves are viewable
    assert client.get(reverse("admin:ledger_account_change", args=[alice_usd.pk])).status_code == 200
    assert client.get(reverse("admin:ledger_journalentry_change", args=[entry.pk])).status_code == 200


def test_operations_reverses_a_transfer_through_the_service(client, operations_user, alice_usd, bob_usd):
    transfer = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=5_000)
    client.force_login(operations_user)
    response = client.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "reverse_transfers", "_selected_action": [transfer.pk]},
    )
    assert response.status_code == 302
    reversal = JournalEntry.objects.get(reverses=transfer)
    assert reversal.kind == JournalEntry.Kind.REVERSAL
    alice_usd.refresh_from_db()
    bob_usd.refresh_from_db()
    assert (alice_usd.balance, bob_usd.balance) == (100_000, 25_000)
    assert AuditEvent.objects.get(action="ledger.transfer_reverse").after["reversal_entry_id"] == reversal.pk


def test_reversing_a_deposit_is_refused_and_changes_nothing(client, operations_user, alice_usd):
    deposit = JournalEntry.objects.get(kind=JournalEntry.Kind.DEPOSIT)
    client.force_login(operations_user)
    before = ledger_snapshot()
    client.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "reverse_transfers", "_selected_action": [deposit.pk]},
    )
    assert ledger_snapshot() == before
    assert not AuditEvent.objects.exists()


def test_compliance_cannot_reverse_transfers(client, compliance_user, alice_usd, bob_usd):
    transfer = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=5_000)
    client.force_login(compliance_user)
    before = ledger_snapshot()
    response = client.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "reverse_transfers", "_selected_action": [transfer.pk]},
    )
    assert response.status_code == 200  # Django answers an unknown action with the list and a message
    assert ledger_snapshot() == before


def test_issuing_an_api_key_shows_the_plaintext_once(client, operations_user, tenant):
    client.force_login(operations_user)
    # when the key is issued
    response = client.post(
        reverse("admin:accounts_client_issue_api_key", args=[tenant.pk]), {"name": "backend", "expires_at": ""}
    )
    # then the response carries the plaintext, uncacheable; the database only a hash
    assert response.status_code == 200
    plaintext = response.context["plaintext"]
    key = ApiKey.objects.get(client=tenant, name="backend")
    assert plaintext.startswith(f"{key.prefix}.")
    assert plaintext in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    secret = plaintext.split(".", 1)[1]
    assert secret not in key.hashed_secret
    # and no later page shows it again
    for url in (
        reverse("admin:accounts_client_change", args=[tenant.pk]),
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:audit_auditevent_changelist"),
    ):
        assert secret not in client.get(url).content.decode()
    event = AuditEvent.objects.get(action="accounts.api_key_create")
    assert secret not in str(event.after) and event.client_id == tenant.pk


def test_read_only_cannot_issue_keys(client, read_only_user, tenant):
    client.force_login(read_only_user)
    response = client.post(reverse("admin:accounts_client_issue_api_key", args=[tenant.pk]), {"name": "x"})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_revoking_keys_is_audited_once(client, operations_user, tenant):
    from accounts.services import api_key_create

    key, _ = api_key_create(client=tenant, name="old")
    client.force_login(operations_user)
    for _ in range(2):
        client.post(
            reverse("admin:accounts_apikey_changelist"), {"action": "revoke_keys", "_selected_action": [key.pk]}
        )
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="accounts.api_key_revoke").count() == 1


def test_compliance_freezes_and_unfreezes_users_with_audit(client, compliance_user, alice):
    client.force_login(compliance_user)
    url = reverse("admin:accounts_user_changelist")
    client.post(url, {"action": "freeze_users", "_selected_action": [alice.pk]})
    alice.refresh_from_db()
    assert alice.is_frozen
    client.post(url, {"action": "unfreeze_users", "_selected_action": [alice.pk]})
    alice.refresh_from_db()
    assert not alice.is_frozen
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "accounts.user_freeze", "accounts.user_unfreeze"
    ]


def test_operations_cannot_freeze(client, operations_user, alice):
    client.force_login(operations_user)
    client.post(reverse("admin:accounts_user_changelist"), {"action": "freeze_users", "_selected_action": [alice.pk]})
    alice.refresh_from_db()
    assert not alice.is_frozen


def test_a_frozen_user_cannot_move_money(alice_usd, bob_usd, compliance_user):
    from accounts.services import user_freeze
    from ledger.errors import UserFrozenError

    user_freeze(actor=compliance_user, user=alice_usd.user)
    alice_usd.refresh_from_db()
    before = ledger_snapshot()
    with pytest.raises(UserFrozenError):
        transfer_create(from_account=Account.objects.select_related("user").get(pk=alice_usd.pk),
                        to_account=bob_usd, amount=100)
    assert ledger_snapshot() == before


def test_operations_edits_the_fee_schedule_with_an_audit_row(client, operations_user, tenant):
    client.force_login(operations_user)
    response = client.post(
        reverse("admin:accounts_client_change", args=[tenant.pk]),
        {"name": tenant.name, "slug": tenant.slug, "is_active": "on", "fee_bps": "75",
         "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
         "offered_currencies-TOTAL_FORMS": "0", "offered_currencies-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    tenant.refresh_from_db()
    assert tenant.fee_bps == 75
    event = AuditEvent.objects.get(action="accounts.client_change")
    assert event.before == {"fee_bps": 50} and event.after == {"fee_bps": 75}


def test_read_only_sees_pages_but_cannot_change_a_client(client, read_only_user, tenant):
    client.force_login(read_only_user)
    assert client.get(reverse("admin:accounts_client_change", args=[tenant.pk])).status_code == 200
    response = client.post(reverse("admin:accounts_client_change", args=[tenant.pk]),
                           {"name": "renamed", "slug": tenant.slug, "fee_bps": "1"})
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.name != "renamed"


def test_only_superusers_grant_roles(client, operations_user, superuser, alice):
    from django.contrib.auth.models import Group

    client.force_login(operations_user)
    response = client.get(reverse("admin:accounts_user_change", args=[operations_user.pk]))
    assert "groups" not in response.context["adminform"].form.fields
    client.force_login(superuser)
    response = client.get(reverse("admin:accounts_user_change", args=[operations_user.pk]))
    assert "groups" in response.context["adminform"].form.fields
    assert Group.objects.filter(name="Compliance").exists()
