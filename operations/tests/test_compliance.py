"""Compliance rules run inside every posting transaction and queue review items."""

import pytest
from django.db import transaction

from broker.services import rate_update
from ledger.errors import InsufficientFundsError
from ledger.services import TransferRequest, deposit_create, transfer_batch_create, transfer_create, withdrawal_create
from operations.compliance import compliance_observe_entry
from operations.models import ComplianceRule, ReviewItem
from tests.factories import ClientFactory, EndUserFactory, open_account


@pytest.fixture
def only_rule(db):
    """Deactivate the seeded rules; each test activates the one it exercises."""
    ComplianceRule.objects.update(is_active=False)

    def make(**fields):
        return ComplianceRule.objects.create(name="rule under test", **fields)

    return make


def test_the_observer_is_installed_by_default(settings):
    assert "operations.compliance.compliance_observe_entry" in settings.LEDGER_ENTRY_OBSERVERS


def test_deposit_above_usd_threshold_opens_a_review_item(only_rule, alice):
    rule = only_rule(kind="large_movement", threshold_usd=1_000_000)
    account = open_account(alice, "USD")
    # when a deposit of 10,000.01 arrives
    entry = deposit_create(account=account, amount=1_000_001)
    # then one open review item points at the user, the entry and the rule
    item = ReviewItem.objects.get()
    assert (item.user, item.entry, item.rule, item.status) == (alice, entry, rule, ReviewItem.Status.OPEN)
    assert item.client_id == alice.client_id


def test_movement_at_the_threshold_is_not_flagged(only_rule, alice):
    only_rule(kind="large_movement", threshold_usd=1_000_000)
    deposit_create(account=open_account(alice, "USD"), amount=1_000_000)
    assert not ReviewItem.objects.exists()


def test_crypto_is_valued_at_the_broker_rate(only_rule, alice):
    only_rule(kind="large_movement", threshold_usd=1_000_000)
    rate_update(currency="BTC", price_e8=60_000 * 10**8, source="demo")
    account = open_account(alice, "BTC")
    deposit_create(account=account, amount=16_000_000)  # 0.16 BTC = 9,600 USD: under
    assert not ReviewItem.objects.exists()
    deposit_create(account=account, amount=17_000_000)  # 0.17 BTC = 10,200 USD: over
    assert ReviewItem.objects.count() == 1


def test_without_a_rate_the_per_currency_threshold_applies(only_rule, alice):
    only_rule(kind="large_movement", threshold_usd=1_000_000)
    only_rule(kind="large_movement", currency_id="ETH", threshold_minor=5 * 10**9)
    account = open_account(alice, "ETH")
    deposit_create(account=account, amount=5 * 10**9)
    assert not ReviewItem.objects.exists()
    deposit_create(account=account, amount=5 * 10**9 + 1)
    assert ReviewItem.objects.get().rule.currency_id == "ETH"


def test_more_than_n_movements_per_hour_is_flagged_once(only_rule, alice_usd, bob_usd):
    rule = only_rule(kind="velocity", max_movements=3)
    # alice already has her funding deposit (1 movement); three transfers make four
    for _ in range(3):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)
    assert ReviewItem.objects.filter(user=alice_usd.user, rule=rule).count() == 1
    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)
    assert ReviewItem.objects.filter(user=alice_usd.user, rule=rule).count() == 1


def test_withdrawal_right_after_a_large_deposit_is_flagged(only_rule, alice):
    rule = only_rule(kind="withdrawal_after_deposit", threshold_usd=500_000)
    account = open_account(alice, "USD")
    deposit_create(account=account, amount=600_000)
    assert not ReviewItem.objects.exists()
    withdrawal = withdrawal_create(account=account, amount=100)
    assert ReviewItem.objects.get(rule=rule).entry == withdrawal


def test_withdrawal_after_a_small_deposit_is_not_flagged(only_rule, alice):
    only_rule(kind="withdrawal_after_deposit", threshold_usd=500_000)
    account = open_account(alice, "USD")
    deposit_create(account=account, amount=400_000)
    withdrawal_create(account=account, amount=100)
    assert not ReviewItem.objects.exists()


def test_movements_between_system_accounts_only_are_not_evaluated(only_rule, tenant):
    from ledger.models import Account
    from ledger.services import Leg, entry_post, system_account_get

    only_rule(kind="large_movement", threshold_usd=1)
    funding = system_account_get(client=tenant, currency="USD", kind=Account.Kind.FUNDING)
    inventory = system_account_get(client=tenant, currency="USD", kind=Account.Kind.INVENTORY)
    entry = entry_post(client_id=tenant.pk, kind="adjustment", legs=[Leg(funding, -5), Leg(inventory, 5)])
    assert compliance_observe_entry(entry=entry, legs=[]) == []
    assert not ReviewItem.objects.exists()


def test_compliance_clears_and_escalates_review_items_in_admin(client, only_rule, compliance_user, alice):
    from django.urls import reverse

    from audit.models import AuditEvent

    only_rule(kind="large_movement", threshold_usd=1)
    account = open_account(alice, "USD")
    deposit_create(account=account, amount=500)
    deposit_create(account=account, amount=600)
    first, second = ReviewItem.objects.order_by("id")
    client.force_login(compliance_user)
    url = reverse("admin:operations_reviewitem_changelist")
    client.post(url, {"action": "clear_items", "_selected_action": [first.pk]})
    client.post(url, {"action": "escalate_items", "_selected_action": [second.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.resolved_by) == (ReviewItem.Status.CLEARED, compliance_user)
    assert second.status == ReviewItem.Status.ESCALATED
    assert AuditEvent.objects.filter(action__startswith="operations.review_item_").count() == 2
    # a cleared item cannot be escalated afterwards
    client.post(url, {"action": "escalate_items", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == ReviewItem.Status.CLEARED


def test_operations_cannot_work_the_review_queue(client, only_rule, operations_user, alice):
    from django.urls import reverse

    only_rule(kind="large_movement", threshold_usd=1)
    deposit_create(account=open_account(alice, "USD"), amount=500)
    item = ReviewItem.objects.get()
    client.force_login(operations_user)
    client.post(reverse("admin:operations_reviewitem_changelist"),
                {"action": "clear_items", "_selected_action": [item.pk]})
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN


def _observer_statements(legs_of) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        legs_of()
    return len(captured.captured_queries)


def test_velocity_is_judged_from_counters_whatever_the_users_history(only_rule, alice_usd, bob_usd, settings):
    from django.utils import timezone

    from operations.models import MovementCount

    # given: rules cached, a velocity rule, and an hour of history already counted
    settings.COMPLIANCE_RULES_CACHE_SECONDS = 60
    only_rule(kind="velocity", max_movements=1000)
    transfer = lambda: transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1)  # noqa: E731
    transfer()
    short_history = _observer_statements(transfer)
    for _ in range(30):
        transfer()
    # when: one more transfer
    long_history = _observer_statements(transfer)
    # then: the same statements (one counter bump) whether the user has 3 movements or 34
    assert long_history == short_history
    counted = MovementCount.objects.filter(user=alice_usd.user, minute__gte=int(timezone.now().timestamp()) // 60 - 1)
    assert sum(counted.values_list("movements", flat=True)) == 34  # the funding deposit and 33 transfers
    assert not ReviewItem.objects.exists()


def test_movements_older_than_the_window_do_not_count(only_rule, alice_usd, bob_usd):
    from django.utils import timezone

    from operations.models import MovementCount

    # given: 10 movements counted an hour ago, outside a 60-minute window
    this_minute = int(timezone.now().timestamp()) // 60
    MovementCount.objects.create(user=alice_usd.user, minute=this_minute - 60, movements=10)
    rule = only_rule(kind="velocity", max_movements=3)
    # when: two more now (with the funding deposit, three in the window)
    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)
    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)
    # then: not flagged; the fourth in the window is
    assert not ReviewItem.objects.filter(rule=rule).exists()
    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=100)
    assert ReviewItem.objects.filter(user=alice_usd.user, rule=rule).count() == 1


def test_rules_are_read_once_per_cache_period(only_rule, alice, settings):
    from operations.compliance import compliance_rules_active

    settings.COMPLIANCE_RULES_CACHE_SECONDS = 60
    first = compliance_rules_active()
    only_rule(kind="large_movement", threshold_usd=1)
    # within the period the process keeps what it read; with no cache it sees the change at once
    assert compliance_rules_active() == first
    settings.COMPLIANCE_RULES_CACHE_SECONDS = 0
    assert [rule.name for rule in compliance_rules_active()] == ["rule under test"]


def test_a_batch_opens_exactly_the_review_items_its_transfers_would_one_by_one(only_rule):
    # given: two velocity limits and a large-movement threshold
    only_rule(kind="velocity", max_movements=3)
    only_rule(kind="velocity", max_movements=5, window_minutes=10)
    only_rule(kind="large_movement", threshold_usd=5_000_00)
    # the same moves, each between three users funded alike; one refused for want of funds
    moves = [(0, 1, 100), (1, 2, 100), (0, 2, 6_000_00), (2, 0, 10**9), (0, 1, 100), (1, 0, 100),
             (0, 2, 100), (2, 1, 5_000_01), (0, 1, 100), (1, 2, 100)]

    def users_funded_alike():
        client = ClientFactory()
        return [open_account(EndUserFactory(client=client), "USD", deposit=10_000_00) for _ in range(3)]

    def opened(accounts) -> list[tuple]:
        position_of = {account.user_id: position for position, account in enumerate(accounts)}
        items = ReviewItem.objects.filter(user_id__in=position_of).order_by("id")
        return [(position_of[item.user_id], item.rule.name, item.rule.max_movements, item.detail,
                 item.entry.postings.order_by("id").first().amount) for item in items]

    one_by_one = users_funded_alike()
    for source, target, amount in moves:
        try:
            with transaction.atomic():
                transfer_create(from_account=one_by_one[source], to_account=one_by_one[target], amount=amount)
        except InsufficientFundsError:
            pass
    batched = users_funded_alike()
    # when
    outcomes = transfer_batch_create(
        transfers=[TransferRequest(from_account=batched[source], to_account=batched[target], amount=amount)
                   for source, target, amount in moves],
        atomic=False,
    )
    # then: the refused transfer counts for nobody, and the same items open for the same entries
    assert [outcome.error.code for outcome in outcomes if outcome.error] == ["insufficient_funds"]
    assert opened(batched) == opened(one_by_one)
    assert len(opened(batched)) >= 4
