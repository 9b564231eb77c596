"""Webhook URLs that would reach inside the network are refused, at registration and again at
delivery after resolving the name (WEBHOOK_ALLOW_PRIVATE_URLS off, as in production)."""

import socket

import pytest

from events import url_safety
from events.delivery import delivery_attempt
from events.models import WebhookDelivery, WebhookEndpoint
from events.services import webhook_endpoint_create
from events.url_safety import UnsafeWebhookUrlError, webhook_url_check
from ledger.services import deposit_create
from tests.factories import EndUserFactory, open_account


@pytest.fixture
def production_rules(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


def resolving(mapping: dict[str, str]):
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in mapping:
            raise socket.gaierror(f"unknown host {host}")
        family = socket.AF_INET6 if ":" in mapping[host] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (mapping[host], port))]

    return getaddrinfo


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://127.0.0.1/hook", id="loopback"),
        pytest.param("https://127.8.9.10/hook", id="loopback-range"),
        pytest.param("https://10.1.2.3/hook", id="10/8"),
        pytest.param("https://172.16.0.1/hook", id="172.16/12"),
        pytest.param("https://192.168.1.1/hook", id="192.168/16"),
        pytest.param("https://169.254.169.254/latest/meta-data/", id="metadata"),
        pytest.param("https://[::1]/hook", id="ipv6-loopback"),
        pytest.param("https://[fd00::1]/hook", id="ipv6-unique-local"),
        pytest.param("https://[fe80::1]/hook", id="ipv6-link-local"),
        pytest.param("https://[::ffff:127.0.0.1]/hook", id="ipv4-mapped-loopback"),
        pytest.param("https://0.0.0.0/hook", id="unspecified"),
        pytest.param("https://100.64.0.1/hook", id="shared-cgnat"),
        pytest.param("https://internal.example/hook", id="name-resolving-to-loopback"),
        pytest.param("https://metadata.example/hook", id="name-resolving-to-metadata"),
        pytest.param("http://93.184.216.34/hook", id="plain-http"),
        pytest.param("ftp://93.184.216.34/hook", id="not-http"),
        pytest.param("https://user:pass@93.184.216.34/hook", id="credentials"),
        pytest.param("https://nowhere.example/hook", id="does-not-resolve"),
    ],
)
def test_unsafe_urls_are_refused(production_rules, monkeypatch, url):
    monkeypatch.setattr(
        socket, "getaddrinfo",
        resolving({"internal.example": "127.0.0.1", "metadata.example": "169.254.169.254"}),
    )
    with pytest.raises(UnsafeWebhookUrlError):
        webhook_url_check(url)


def test_localhost_is_refused_by_its_real_resolution(production_rules):
    with pytest.raises(UnsafeWebhookUrlError, match="not a public address"):
        webhook_url_check("https://localhost:8443/hook")


def test_a_name_with_any_private_address_is_refused(production_rules, monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(UnsafeWebhookUrlError):
        webhook_url_check("https://mixed.example/hook")


def test_a_public_https_url_is_accepted_with_the_address_to_connect_to(production_rules, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", resolving({"hooks.example.com": "93.184.216.34"}))
    target = webhook_url_check("https://hooks.example.com:8443/in?source=brokerage")
    assert (target.host, target.address, target.port, target.path) == (
        "hooks.example.com", "93.184.216.34", 8443, "/in?source=brokerage"
    )


def test_the_development_setting_allows_local_receivers(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert webhook_url_check("http://127.0.0.1:8000/hook").address == "127.0.0.1"


@pytest.mark.django_db
def test_registration_refuses_an_unsafe_url_and_writes_nothing(production_rules):
    user = EndUserFactory()
    with pytest.raises(UnsafeWebhookUrlError):
        webhook_endpoint_create(client_id=user.client_id, url="https://169.254.169.254/")
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_a_name_that_later_resolves_to_a_private_address_is_refused_at_delivery(production_rules, monkeypatch):
    # Given an endpoint registered while its name resolved to a public address
    monkeypatch.setattr(socket, "getaddrinfo", resolving({"hooks.example.com": "93.184.216.34"}))
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url="https://hooks.example.com/in")
    account = open_account(user, "USD")
    deposit_create(account=account, amount=100)
    sent = []
    monkeypatch.setattr(url_safety.socket, "getaddrinfo", resolving({"hooks.example.com": "127.0.0.1"}))
    monkeypatch.setattr("urllib3.HTTPSConnectionPool.urlopen", lambda *a, **k: sent.append(a))

    # When the delivery is attempted after the name moved to a loopback address
    delivery = delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)

    # Then nothing is sent, and the refusal is recorded as a failed attempt to retry later
    assert sent == []
    attempt = delivery.attempt_log.get()
    assert attempt.response_status is None and attempt.error.startswith("refused:")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
