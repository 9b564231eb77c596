"""`user_balances_represent` renders exactly what UserBalancesSerializer (which documents the
reply) renders: same keys, order and values, with and without `as_of`, for every currency."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from accounts.callers import Caller, CallerKind
from ledger.api.serializers import UserBalancesSerializer, user_balances_represent
from ledger.history import balance_list_as_of
from ledger.models import Currency
from ledger.selectors import balance_list
from tests.factories import EndUserFactory, open_account

pytestmark = pytest.mark.django_db

PLUS_TWO = timezone(timedelta(hours=2))


def test_user_balances_render_as_the_serializer_renders_them():
    # given: a user with balances of several scales, and one without accounts
    user = EndUserFactory()
    open_account(user, "USD", deposit=123_45)
    open_account(user, "BTC", deposit=1)
    open_account(user, "ETH")
    nobody = EndUserFactory(client=user.client)
    caller = Caller(kind=CallerKind.API_KEY, client_id=user.client_id)
    cases = []
    for someone in (user, nobody):
        for currency in (None, *Currency.objects.filter(code__in=["USD", "BTC", "DOGE"])):
            balances = balance_list(caller=caller, user_id=someone.pk, currency=currency)
            cases.append({"user": someone.pk, "balances": balances})
            for as_of in (datetime.now(UTC), datetime(2026, 1, 31, 23, 59, 59, 500, tzinfo=PLUS_TWO)):
                as_of_balances = balance_list_as_of(caller=caller, user=someone, as_of=as_of, currency=currency)
                cases.append({"user": someone.pk, "as_of": as_of, "balances": as_of_balances})
    for case in cases:
        # when / then: the same JSON, byte for byte
        rendered = json.dumps(user_balances_represent(**case))
        assert rendered == json.dumps(UserBalancesSerializer(case).data), case
