"""Structured logs: JSON lines with request id, client and caller type; never a key's secret."""

import io
import json
import logging

import pytest

from config.logging import formatter
from tests.fixtures import make_tenant


@pytest.fixture
def log_output():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_request_with_an_api_key_logs_json_lines_without_the_secret(client, db, log_output):
    tenant = make_tenant()
    secret = tenant.plaintext_key.split(".", 1)[1]
    # when the client calls the API with its key (one good call, one with a wrong secret)
    response = client.get("/api/v1/users/", HTTP_X_REQUEST_ID="trace-1", **tenant.auth)
    client.get("/api/v1/users/", HTTP_AUTHORIZATION=f"Api-Key {tenant.api_key.prefix}.wrong-secret-value-123456")
    # then every line is JSON with a request id, the request line names client and caller
    output = log_output.getvalue()
    records = lines(log_output)
    assert response.status_code == 200
    assert records and all(record.get("request_id") for record in records)
    request_line = next(r for r in records if r["event"] == "request" and r["request_id"] == "trace-1")
    assert request_line["caller"] == "api_key"
    assert request_line["client_id"] == tenant.client.pk
    assert request_line["status"] == 200 and request_line["path"] == "/api/v1/users/"
    # and the secret appears nowhere
    assert secret not in output
    assert "wrong-secret-value" not in output


def test_secrets_logged_by_mistake_are_masked(log_output, db):
    tenant = make_tenant()
    secret = tenant.plaintext_key.split(".", 1)[1]
    logging.getLogger("somewhere").info("called with %s and Authorization: Bearer abcdefghijkl", tenant.plaintext_key)
    output = log_output.getvalue()
    assert secret not in output and "abcdefghijkl" not in output
    assert f"{tenant.api_key.prefix}.[redacted]" in output


def test_admin_requests_carry_the_staff_caller(client, superuser, log_output):
    client.force_login(superuser)
    client.get("/admin/", HTTP_X_REQUEST_ID="admin-1")
    request_line = next(r for r in lines(log_output) if r["event"] == "request" and r["request_id"] == "admin-1")
    assert request_line["caller"] == "platform_staff"


def test_tokens_in_a_url_path_never_reach_the_logs(client, db, log_output):
    from tests.fixtures import end_user_auth

    tenant = make_tenant()
    token = end_user_auth(tenant.user)["HTTP_AUTHORIZATION"].split()[1]
    response = client.get(f"/api/v1/x/{token}/")
    client.get(f"/admin/{token}/")
    output = log_output.getvalue()
    assert response.status_code == 404
    assert token.split(".")[1] not in output and token.split(".")[2] not in output
    assert "[redacted-token]" in output
