from unittest import mock

from django.urls import reverse

from ledger.models import LedgerVerification


def test_healthz_answers_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_and_cache(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_readyz_is_503_when_the_cache_is_unreachable(client, db):
    with mock.patch("operations.views.cache.set", side_effect=ConnectionError("cache down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "failed"


def test_readyz_is_503_when_the_database_is_unreachable(client, db):
    with mock.patch("operations.views._database_ok", return_value=False):
        response = client.get("/readyz")
    assert response.status_code == 503


def test_metrics_are_not_public_by_default(client, db):
    assert client.get("/metrics").status_code == 401


def test_metrics_with_the_bearer_token(client, db, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200


def test_metrics_for_staff_include_our_figures(client, superuser, alice_usd):
    LedgerVerification.objects.create(is_ok=True, accounts_checked=3, entries_checked=1)
    client.force_login(superuser)
    body = client.get("/metrics").content.decode()
    assert 'ledger_journal_entries{kind="deposit"} 1.0' in body
    assert 'broker_orders{status="open"} 0.0' in body
    assert "compliance_review_items_open 0.0" in body
    assert "worker_queue_depth 0.0" in body
    assert "ledger_verification_ok 1.0" in body
    assert "django_http_requests_total_by_method_total" in body


def test_metrics_public_when_configured(client, db, settings):
    settings.METRICS_PUBLIC = True
    assert client.get("/metrics").status_code == 200


def test_end_users_and_client_staff_sessions_do_not_get_metrics(client, alice):
    client.force_login(alice)
    assert client.get("/metrics").status_code == 401


def test_dashboard_renders_charts_for_staff(client, superuser, alice_usd, bob_usd):
    from ledger.services import transfer_create

    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_000)
    LedgerVerification.objects.create(is_ok=True, accounts_checked=3, entries_checked=3)
    client.force_login(superuser)
    response = client.get(reverse("operations:dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and "USD moved" in body
    assert 'id="ledger-verification"' in body and ">OK<" in body
    assert reverse("operations:dashboard") in client.get(reverse("admin:index")).content.decode()


def test_dashboard_is_for_staff_only(client, alice, read_only_user):
    client.force_login(alice)
    assert client.get(reverse("operations:dashboard")).status_code == 302  # to the admin login
    client.force_login(read_only_user)
    assert client.get(reverse("operations:dashboard")).status_code == 200
