"""Writing audit events. The caller's transaction is the audit row's transaction."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from audit.models import AuditEvent
from core.middleware import request_id_var


def audit_record(
    *,
    actor: Any = None,
    action: str,
    obj: models.Model | None = None,
    client: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event.

    Call it inside the transaction that makes the change, so the event exists exactly when the
    change does. `actor` is the staff user (None for the system or an API key, whose key should
    then be `obj`); `client` defaults to `obj.client_id` when the object has one. `before`/`after`
    hold the changed fields; values go through DjangoJSONEncoder (datetimes, Decimals as strings).
    The request id comes from the current request, when there is one.
    """
    if not action:
        raise ValueError("An audit event needs an action.")
    client_id = _client_id(client, obj)
    actor_id = getattr(actor, "pk", None)
    with transaction.atomic():
        return AuditEvent.objects.create(
            actor_id=actor_id,
            actor_repr=_short(actor.get_username() if hasattr(actor, "get_username") else str(actor or "")),
            client_id=client_id,
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
            object_repr=_short(str(obj)) if obj is not None else "",
            before=_jsonable(before),
            after=_jsonable(after),
            request_id=request_id_var.get() or "",
        )


def _client_id(client: Any, obj: models.Model | None) -> int | None:
    if client is not None:
        return client if isinstance(client, int) else client.pk
    if obj is not None and obj._meta.label == "accounts.Client":
        return obj.pk
    return getattr(obj, "client_id", None)


def _short(text: str) -> str:
    return text[:200]


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    # Round-trip through the encoder so what is stored is exactly what JSON can hold.
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))
