"""Daily balance snapshots (ledger_snapshot), their cross-check in verify_ledger, the dashboard's
latest-snapshot totals and the admin trial balance."""

from datetime import UTC, date, datetime
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from ledger.models import Account, BalanceSnapshot
from ledger.services import deposit_create, system_account_get, transfer_create
from ledger.verification import ledger_verify
from tests.factories import EndUserFactory, PlatformStaffFactory, open_account

DAY_ONE, DAY_TWO = date(2026, 1, 10), date(2026, 1, 11)


def at(*args):
    return mock.patch("django.utils.timezone.now", return_value=datetime(*args, tzinfo=UTC))


def snapshot(day: date) -> str:
    out = StringIO()
    call_command("ledger_snapshot", "--date", day.isoformat(), stdout=out)
    return out.getvalue()


@pytest.fixture
def two_days(client_tenant):
    """Day one (UTC): alice gets 100.00 at noon and 5.00 at 20:00; day two: she sends bob 30.00."""
    with at(2026, 1, 10, 12):
        alice = open_account(EndUserFactory(client=client_tenant), "USD", deposit=100_00)
        bob = open_account(EndUserFactory(client=client_tenant), "USD")
    with at(2026, 1, 10, 20):
        deposit_create(account=alice, amount=5_00)
    with at(2026, 1, 11, 9):
        transfer_create(from_account=alice, to_account=bob, amount=30_00)
    funding = system_account_get(client=client_tenant, currency="USD", kind=Account.Kind.FUNDING)
    return alice, bob, funding


def closing(day: date) -> dict[int, int]:
    return dict(BalanceSnapshot.objects.filter(date=day).values_list("account_id", "balance"))


def test_a_snapshot_stores_each_accounts_balance_at_the_end_of_the_day_once(two_days):
    alice, bob, funding = two_days
    # when
    first = snapshot(DAY_ONE)
    again = snapshot(DAY_ONE)
    snapshot(DAY_TWO)
    # then
    assert "3 account balance(s) stored" in first
    assert "0 account balance(s) stored" in again
    assert closing(DAY_ONE) == {alice.pk: 105_00, bob.pk: 0, funding.pk: -105_00}
    assert closing(DAY_TWO) == {alice.pk: 75_00, bob.pk: 30_00, funding.pk: -105_00}
    assert BalanceSnapshot.objects.get(account=alice, date=DAY_ONE).as_of == datetime(2026, 1, 11, tzinfo=UTC)
    assert ledger_verify(record=False).is_ok


def test_the_snapshot_day_ends_at_midnight_in_the_configured_timezone(two_days, settings):
    alice, _, _ = two_days
    # 20:00 UTC on day one is 05:00 on day two in Tokyo: the 5.00 deposit is not in day one there
    settings.LEDGER_SNAPSHOT_TIMEZONE = "Asia/Tokyo"
    snapshot(DAY_ONE)
    assert closing(DAY_ONE)[alice.pk] == 100_00


def test_a_day_that_has_not_ended_cannot_be_snapshotted(client_tenant):
    with at(2026, 1, 10, 23, 59), pytest.raises(CommandError, match="has not ended"):
        snapshot(DAY_ONE)
    assert not BalanceSnapshot.objects.exists()


def test_accounts_opened_after_the_day_are_not_in_its_snapshot(two_days, client_tenant):
    with at(2026, 1, 12, 8):
        late = open_account(EndUserFactory(client=client_tenant), "USD", deposit=1_00)
    snapshot(DAY_TWO)
    assert late.pk not in closing(DAY_TWO)


def test_the_dashboard_shows_the_latest_snapshot_totals_per_client_and_currency(client, two_days, client_tenant):
    snapshot(DAY_ONE)
    snapshot(DAY_TWO)
    client.force_login(PlatformStaffFactory(is_superuser=True))
    body = client.get(reverse("operations:dashboard")).content.decode()
    assert 'id="balance-snapshot"' in body
    assert "end of Jan. 11, 2026" in body or "end of 2026-01-11" in body
    row = f"<td>{client_tenant.name}</td><td>USD</td><td>105.00</td><td>-105.00</td><td>3</td>"
    assert row in body


def test_the_admin_trial_balance_lists_each_client_and_currency_totalling_zero(client, two_days, client_tenant):
    client.force_login(PlatformStaffFactory(is_superuser=True))
    response = client.get(reverse("admin:ledger_account_trial_balance"))
    body = response.content.decode()
    assert response.status_code == 200
    assert (
        f"<td>{client_tenant.name}</td><td>USD</td><td>-105.00</td><td>0.00</td>\n      <td>0.00</td><td>0.00</td>"
        "<td>105.00</td>\n      <td>0.00</td>" in body
    )


def test_the_admin_trial_balance_is_for_staff_only(client, two_days):
    alice_user = two_days[0].user
    client.force_login(alice_user)
    assert client.get(reverse("admin:ledger_account_trial_balance")).status_code == 302
