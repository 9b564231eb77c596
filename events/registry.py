"""How an event's `data` is rendered: each app registers, for its models, the function that
renders an object exactly as its API does (usually its serializer), from its AppConfig.ready.

The events app imports no other app; the apps that record events hand it their renderers here.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

Renderer = Callable[..., Mapping[str, Any]]

_renderers: dict[type[models.Model], Renderer] = {}


def renderer_register(model: type[models.Model], renderer: Renderer) -> None:
    """Render instances of `model` with `renderer` in events (its API serializer's `.data`).
    The renderer takes the object and the keyword context `event_record` was given."""
    _renderers[model] = renderer


def render(obj: models.Model, **context: Any) -> Mapping[str, Any]:
    for model in type(obj).__mro__:
        renderer = _renderers.get(model)
        if renderer is not None:
            return renderer(obj, **context)
    raise LookupError(f"No event renderer registered for {type(obj).__name__}.")


def render_json(obj: models.Model, **context: Any) -> dict[str, Any]:
    """`render(obj)` as plain JSON values (serializer output may hold ordered dicts, Decimals or
    datetimes), the form the database and the wire hold."""
    return json.loads(json.dumps(render(obj, **context), cls=DjangoJSONEncoder))
