"""Querysets whose SQL Django compiles once per process.

Django compiles a queryset's SQL anew every time it is evaluated. For a short query on the money
path that is most of its cost: loading a transfer's two accounts with their currency and owner
took 1.9 ms of CPU to compile and 0.2 ms to run. `CompiledQuery` builds the queryset once per
shape with placeholders in place of the values, remembers the SQL and where each placeholder sits
among its parameters, and afterwards only substitutes the values and builds the model instances
the way Django's own iterator does (`select_related` and annotations included), or the tuples of
a `values_list()`.

`row_update` and `row_create` do the same for `save(update_fields=…)` and `objects.create(…)` on
the money path: the statement is written once per model (and fields), the values are prepared by
the fields as Django prepares them.

The queryset is still written once, with the ORM and the usual selectors (tenant scoping
included); only its compilation is kept. Compiled SQL depends on nothing but the code and the
database backend, so it never goes stale within a process. Every statement runs through
`core.prepared.prepared_cursor`, so PostgreSQL plans it once per connection too.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.signals import post_save, pre_save

from core.prepared import prepared_cursor

M = TypeVar("M", bound=Model)

# Placeholders are integers no primary key or foreign key ever takes, and strings no code or name
# ever holds (NUL cannot even be stored in PostgreSQL text).
_PLACEHOLDER_BASE = -(2**62)
_PLACEHOLDER_TEXT = "\x00compiled placeholder {}\x00"

Value = int | str


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    placeholders: dict[Value, tuple[str, int | None]]  # placeholder -> (value name, index in a sequence)
    compiler: Any
    converters: dict
    # Model instances: the model, its columns, the populators of its select_related rows and the
    # columns of its annotations.
    model: type[Model] | None = None
    init_list: list[str] | None = None
    model_fields: slice | None = None
    related_populators: list | None = None
    annotation_columns: tuple[tuple[str, int], ...] = ()
    # values_list(): the rows as they are (Django 5.2 selects the columns in the order named).
    is_values_list: bool = False


class CompiledQuery(Generic[M]):
    """`build(shape, **values)` returns the queryset for integer or string values (or sequences
    of them). `shape` is anything hashable that changes the SQL other than the values (say,
    whether the caller is scoped to a client); each shape, and each length of a sequence value,
    is compiled once. The queryset selects whole model instances (annotations are set on them as
    Django sets them; no deferred fields) or is a `values_list()` of tuples, and depends on the
    values only through its parameters: a value written into the SQL text, or changed on its way
    to a parameter, is refused."""

    def __init__(self, build: Callable[..., QuerySet[M]]):
        self._build = build
        self._compiled: dict[Hashable, _Compiled] = {}

    def fetch(self, shape: Hashable = None, /, **values: Value | Sequence[Value]) -> list[Any]:
        lengths = tuple(sorted((name, None if isinstance(v, int | str) else len(v)) for name, v in values.items()))
        key = (shape, lengths)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(shape, values)
        params = [self._value(compiled, param, values) for param in compiled.params]
        with prepared_cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return self._instances(compiled, rows)

    @staticmethod
    def _value(compiled: _Compiled, param: Any, values: dict) -> Any:
        if type(param) not in (int, str) or param not in compiled.placeholders:
            return param
        name, index = compiled.placeholders[param]
        return values[name] if index is None else values[name][index]

    def _compile(self, shape: Hashable, values: dict) -> _Compiled:
        # Built twice with different placeholders: a value that reached the SQL text itself, or
        # was changed on its way to a parameter, would make the two differ, and is refused.
        queryset, compiler, sql, params, placeholders = self._built(shape, values, _PLACEHOLDER_BASE)
        _, _, other_sql, other_params, other_placeholders = self._built(shape, values, _PLACEHOLDER_BASE + 2**40)
        if sql != other_sql or _named(params, placeholders) != _named(other_params, other_placeholders):
            raise ValueError("The query must carry each value, unchanged, as a parameter, not in its SQL text.")
        common = {"sql": sql, "params": tuple(params), "placeholders": placeholders, "compiler": compiler,
                  "converters": compiler.get_converters([column[0] for column in compiler.select])}
        if queryset._iterable_class is ValuesListIterable:
            return _Compiled(**common, is_values_list=True)
        if queryset._iterable_class is not ModelIterable or queryset.query.deferred_loading[0]:
            raise ValueError("A compiled query selects whole model instances or a values_list() only.")
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        model_fields = slice(fields[0], fields[-1] + 1)
        return _Compiled(
            **common,
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[model_fields]],
            model_fields=model_fields,
            # Django 5.2's signature; the type stubs follow a later release.
            related_populators=get_related_populators(klass_info, select, DEFAULT_DB_ALIAS),  # type: ignore[call-arg]
            annotation_columns=tuple((compiler.annotation_col_map or {}).items()),
        )

    def _built(self, shape: Hashable, values: dict, base: int) -> tuple:
        numbers = count(base)
        placeholders: dict[Value, tuple[str, int | None]] = {}

        def stand_in(value: Value, name: str, index: int | None) -> Value:
            number = next(numbers)
            placeholder = _PLACEHOLDER_TEXT.format(number) if isinstance(value, str) else number
            placeholders[placeholder] = (name, index)
            return placeholder

        stand_ins = {
            name: stand_in(value, name, None) if isinstance(value, int | str)
            else [stand_in(item, name, index) for index, item in enumerate(value)]
            for name, value in values.items()
        }
        queryset = self._build(shape, **stand_ins)
        compiler = queryset.query.get_compiler(using=DEFAULT_DB_ALIAS)
        sql, params = compiler.as_sql()
        return queryset, compiler, sql, params, placeholders

    @staticmethod
    def _instances(compiled: _Compiled, rows: list) -> list[Any]:
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        if compiled.is_values_list:
            return [tuple(row) for row in rows]
        instances = []
        for row in rows:
            instance = compiled.model.from_db(  # type: ignore[union-attr]
                DEFAULT_DB_ALIAS, compiled.init_list, row[compiled.model_fields]  # type: ignore[arg-type]
            )
            for populator in compiled.related_populators:  # type: ignore[union-attr]
                populator.populate(row, instance)
            for name, column in compiled.annotation_columns:
                setattr(instance, name, row[column])
            instances.append(instance)
        return instances


def _named(params: Sequence[Any], placeholders: dict[Value, tuple[str, int | None]]) -> list[Any]:
    """The parameters with each placeholder replaced by the value it stands for."""
    return [placeholders.get(param, param) if type(param) in (int, str) else param for param in params]


_UPDATES: dict[tuple[type[Model], tuple[str, ...], str], tuple[str, list[Field]]] = {}


def row_update(instance: Model, *, update_fields: Sequence[str], using: str = "default") -> None:
    """`instance.save(update_fields=update_fields)` with its UPDATE written once per process per
    model and fields: the same values (each field's `pre_save`, so `auto_now` advances, and its
    `get_db_prep_save`), the same error when no row matched, rolled back the same way on an error.
    A model with save signals listened to is saved by Django, signals included."""
    model = type(instance)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        instance.save(update_fields=update_fields, using=using)
        return
    connection = connections[using]
    key = (model, tuple(update_fields), using)
    statement = _UPDATES.get(key)
    if statement is None:
        statement = _UPDATES[key] = _update_statement(model, update_fields, connection)
    sql, fields = statement
    params = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in fields]
    params.append(model._meta.pk.get_db_prep_value(instance.pk, connection))
    with transaction.mark_for_rollback_on_error(using), _cursor(using) as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")


def _update_statement(model: type[Model], update_fields: Sequence[str], connection: Any) -> tuple[str, list[Field]]:
    meta, quote = model._meta, connection.ops.quote_name
    fields: list[Field] = []
    for name in update_fields:
        field = meta.get_field(name)
        if not isinstance(field, Field) or not field.concrete or field.primary_key or hasattr(field, "get_placeholder"):
            raise ValueError("row_update writes plain concrete columns only.")
        fields.append(field)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    pk_column = quote(meta.pk.column)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {pk_column} = %s", fields  # noqa: S608


_INSERTS: dict[tuple[type[Model], str], tuple[str, list[Field]] | None] = {}


def row_create(model: type[M], *, using: str = "default", **values: Any) -> M:
    """`model.objects.create(**values)` with its INSERT written once per process per model: the
    same instance (each field's `pre_save`, so `auto_now_add` and defaults apply, and its
    `get_db_prep_save`; the primary key from RETURNING), rolled back the same way on an error.
    A model Django inserts differently (save signals listened to, parents, database defaults,
    a backend without RETURNING) is created by Django."""
    key = (model, using)
    if key not in _INSERTS:
        _INSERTS[key] = _insert_statement(model, connections[using])
    statement = _INSERTS[key]
    if (
        statement is None
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
        or any(hasattr(value, "resolve_expression") for value in values.values())
    ):
        return model._default_manager.using(using).create(**values)
    sql, fields = statement
    connection = connections[using]
    instance = model(**values)
    instance._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]  # Django's own check
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with transaction.mark_for_rollback_on_error(using), _cursor(using) as cursor:
        cursor.execute(sql, params)
        (pk,) = cursor.fetchone()
    setattr(instance, model._meta.pk.attname, pk)
    instance._state.adding = False
    instance._state.db = using
    return instance


def _insert_statement(model: type[Model], connection: Any) -> tuple[str, list[Field]] | None:
    meta, quote = model._meta, connection.ops.quote_name
    auto_field = meta.auto_field
    fields = [field for field in meta.local_concrete_fields if field is not auto_field]
    if (
        auto_field is None
        or meta.parents
        or list(meta.db_returning_fields) != [auto_field]
        or not connection.features.can_return_columns_from_insert
        or any(field.generated or field.has_db_default() or hasattr(field, "get_placeholder") for field in fields)
    ):
        return None
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    returning, _ = connection.ops.return_insert_columns([auto_field])
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) {returning}"  # noqa: S608
    return sql, fields


def _cursor(using: str):
    return prepared_cursor() if using == DEFAULT_DB_ALIAS else connections[using].cursor()
