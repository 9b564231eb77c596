"""Every admin changelist runs a bounded number of queries for a page of 100 rows (no N+1)."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_key_create
from audit.services import audit_record
from broker.models import Conversion, OfferedCurrency, Order, Quote, RateHistory
from broker.services import rate_update
from ledger.models import Currency, JournalEntry, LedgerVerification
from ledger.services import hold_create
from operations.models import ComplianceRule, PendingWithdrawal, ReviewItem
from tests.factories import ClientFactory, EndUserFactory, open_account

ROWS = 100
# Session, user, permissions, counts, the page itself, filter choices and the date hierarchy:
# a constant, whatever the number of rows.
MAX_QUERIES = 15


@pytest.fixture
def hundred_of_everything(db, superuser):
    tenant = ClientFactory()
    ClientFactory.create_batch(ROWS - 1)
    usd, btc = Currency.objects.get(code="USD"), Currency.objects.get(code="BTC")
    rate_update(currency=btc, price_e8=60_000 * 10**8, source="demo")
    accounts, holds = [], []
    for _ in range(ROWS):
        user = EndUserFactory(client=tenant)
        account = open_account(user, "USD", deposit=10_000)
        holds.append(hold_create(account=account, amount=100, reason="test"))
        accounts.append(account)
        api_key_create(client=tenant, name="key")
    entries = list(JournalEntry.objects.filter(kind=JournalEntry.Kind.DEPOSIT))
    rule = ComplianceRule.objects.first()
    now = timezone.now()
    RateHistory.objects.bulk_create(
        RateHistory(currency=btc, quote_currency=usd, price_e8=10**8 + n, changed_at=now, source="api")
        for n in range(ROWS)
    )
    OfferedCurrency.objects.bulk_create(OfferedCurrency(client_id=c, currency=usd) for c in
                                        tenant.__class__.objects.values_list("pk", flat=True))
    Quote.objects.bulk_create(
        Quote(client=tenant, user=a.user, side="buy", currency=btc, quantity=1000, price_e8=10**8, usd_amount=100,
              fee_bps=50, fee=1, total=101, expires_at=now + timedelta(seconds=30))
        for a in accounts
    )
    Order.objects.bulk_create(
        Order(client=tenant, user=a.user, side="buy", type="limit", currency=btc, quantity=1000,
              limit_price_e8=10**8, fee_bps=50, status="open")
        for a in accounts
    )
    Conversion.objects.bulk_create(
        Conversion(client=tenant, user=a.user, from_currency=usd, to_currency=btc, from_amount=100, to_amount=1,
                   from_price_e8=10**8, to_price_e8=10**8, usd_value=100, fee_bps=50, fee=1, entry=entry)
        for a, entry in zip(accounts, entries, strict=True)
    )
    ReviewItem.objects.bulk_create(
        ReviewItem(client=tenant, user=a.user, entry=entry, rule=rule, detail="test")
        for a, entry in zip(accounts, entries, strict=True)
    )
    PendingWithdrawal.objects.bulk_create(
        PendingWithdrawal(client=tenant, user=a.user, account=a, amount=100, hold=hold)
        for a, hold in zip(accounts, holds, strict=True)
    )
    LedgerVerification.objects.bulk_create(
        LedgerVerification(is_ok=True, accounts_checked=1, entries_checked=1) for _ in range(ROWS)
    )
    for account in accounts:
        audit_record(actor=superuser, action="test.event", obj=account)


def test_every_changelist_of_100_rows_runs_a_bounded_number_of_queries(client, superuser, hundred_of_everything):
    # given 100 rows of every model (one fixture for all pages: it is expensive to build)
    client.force_login(superuser)
    too_many = {}
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        # when the changelist is rendered
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        # then it answers with a full page in a constant number of queries
        assert response.status_code == 200, url
        changelist = response.context["cl"]
        assert len(changelist.result_list) == min(changelist.result_count, changelist.list_per_page)
        if len(queries) > MAX_QUERIES:
            too_many[model._meta.label] = len(queries)
    assert not too_many, f"changelists over {MAX_QUERIES} queries: {too_many}"


def test_user_change_page_with_inlines_runs_a_bounded_number_of_queries(
    client, superuser, hundred_of_everything, django_assert_max_num_queries
):
    from accounts.models import User

    user = User.objects.filter(kind=User.Kind.END_USER).first()
    client.force_login(superuser)
    with django_assert_max_num_queries(40):
        response = client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert response.status_code == 200
