import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey, Client

pytestmark = pytest.mark.django_db


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_create_client_prints_a_working_key_once_and_stores_only_its_hash():
    # when
    printed = run("create_client", "Acme Pay")
    # then
    client = Client.objects.get(pk=printed["client_id"])
    assert client.name == "Acme Pay"
    key = ApiKey.objects.get(client=client)
    assert printed["api_key"].split(".", 1)[1] not in key.hashed_secret
    response = APIClient().get("/api/v1/users/", HTTP_AUTHORIZATION=f"Api-Key {printed['api_key']}")
    assert response.status_code == 200


def test_create_api_key_adds_a_key_that_acts_for_its_client_only():
    first = run("create_client", "Acme Pay")
    other = run("create_client", "Other Pay")
    second = run("create_api_key", str(first["client_id"]))
    assert second["client_id"] == first["client_id"] and second["api_key"] != first["api_key"]
    assert ApiKey.objects.filter(client_id=first["client_id"]).count() == 2
    api = APIClient()
    created = api.post("/api/v1/users/", {"external_id": "u"}, format="json",
                       HTTP_AUTHORIZATION=f"Api-Key {second['api_key']}")
    seen_by_other = api.get(f"/api/v1/users/{created.json()['id']}/", HTTP_AUTHORIZATION=f"Api-Key {other['api_key']}")
    assert created.status_code == 201 and seen_by_other.status_code == 404


def test_create_api_key_for_an_unknown_client_fails():
    with pytest.raises(CommandError):
        call_command("create_api_key", "999999")


def test_create_client_with_a_taken_name_fails_cleanly_and_writes_nothing():
    # given
    call_command("create_client", "Twice Pay", stdout=StringIO())
    clients, keys = Client.objects.count(), ApiKey.objects.count()
    # when / then
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_client", "Twice Pay", stdout=StringIO())
    assert (Client.objects.count(), ApiKey.objects.count()) == (clients, keys)
