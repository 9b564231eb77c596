"""Rules about who may act on what live in access helpers and in the one narrowed caller, so
every endpoint that touches an object answers the same way."""

import pytest
from rest_framework.test import APIClient

from accounts.callers import Caller, CallerKind
from accounts.models import Client
from accounts.selectors import access_client_for_new_user, access_user_for_token
from accounts.services import user_deactivate
from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ledger.models import JournalEntry
from ledger.selectors import access_transfer_to_reverse
from tests.factories import PlatformStaffFactory
from tests.fixtures import ledger_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api():
    staff = PlatformStaffFactory(is_superuser=True)
    api = APIClient()
    api.force_authenticate(user=staff, token=Caller.for_person(staff))
    return api


def test_staff_narrowed_to_one_client_cannot_name_another_clients_account_in_the_body(
    staff_api, tenant, other_tenant
):
    # given: staff looking at `tenant` only
    before = ledger_snapshot()
    # when: they deposit into the other client's account
    response = staff_api.post(
        f"/api/v1/deposits/?client={tenant.client.pk}", {"account": other_tenant.usd.pk, "amount": "1"}, format="json"
    )
    # then: the body id is scoped like the URL, and nothing moved
    assert response.status_code == 404
    assert ledger_snapshot() == before
    # and narrowed to the right client, the same request works
    ok = staff_api.post(
        f"/api/v1/deposits/?client={other_tenant.client.pk}", {"account": other_tenant.usd.pk, "amount": "1"},
        format="json",
    )
    assert ok.status_code == 201


@pytest.mark.parametrize("client", ["x", "0", "-1", "99999999999999999999", "١"])
def test_a_malformed_client_narrowing_is_400(staff_api, tenant, client):
    response = staff_api.get(f"/api/v1/accounts/?client={client}")
    assert response.status_code == 400
    assert response.json()["errors"]["client"]


def test_only_the_recipient_end_user_may_reverse(tenant):
    sender = Caller.for_person(tenant.user)
    recipient = Caller.for_person(tenant.peer)
    with pytest.raises(PermissionDeniedError):
        access_transfer_to_reverse(caller=sender, entry_id=tenant.transfer.pk)
    assert access_transfer_to_reverse(caller=recipient, entry_id=tenant.transfer.pk) == tenant.transfer


def test_another_tenants_transfer_does_not_exist_for_the_caller(tenant, other_tenant):
    caller = Caller.for_person(other_tenant.user)
    with pytest.raises(NotFoundError):
        access_transfer_to_reverse(caller=caller, entry_id=tenant.transfer.pk)
    with pytest.raises(NotFoundError):
        access_transfer_to_reverse(caller=caller, entry_id=2**63)
    assert not JournalEntry.objects.filter(reverses=tenant.transfer).exists()


def test_no_token_for_a_deactivated_user(api, tenant):
    user_deactivate(user=tenant.peer)
    client_caller = Caller(kind=CallerKind.API_KEY, client_id=tenant.client.pk, api_key_id=tenant.api_key.pk)
    with pytest.raises(InvalidInputError):
        access_user_for_token(caller=client_caller, user_id=tenant.peer.pk)
    response = api.post(f"/api/v1/users/{tenant.peer.pk}/tokens/", {}, format="json", **tenant.auth)
    assert response.status_code == 400
    assert response.json()["errors"] == {"user": ["This user is deactivated."]}


def test_a_deactivated_client_adds_no_users(tenant):
    Client.objects.filter(pk=tenant.client.pk).update(is_active=False)
    caller = Caller(kind=CallerKind.CLIENT_STAFF, client_id=tenant.client.pk)
    with pytest.raises(NotFoundError):
        access_client_for_new_user(caller=caller, named=None)
