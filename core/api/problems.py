"""The page behind every problem `type`: /api/v1/problems/<code>, generated from the error classes.

Each domain error class (a `core.errors.DomainError` subclass, found in every app's `errors`
module and wherever else one is defined) and each protocol-level error the exception handler
answers with gives one entry: its code, HTTP status, title and, from the class docstring, when
it happens. Nothing is written by hand, so a new error documents itself.
"""

import inspect
from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.module_loading import autodiscover_modules

from core.api import idempotency  # noqa: F401  (defines the idempotency errors)
from core.api.exceptions import DRF_CODES, status_title
from core.errors import DomainError


@dataclass(frozen=True)
class Problem:
    code: str
    status: int
    title: str
    description: str


def problem_catalogue() -> dict[str, Problem]:
    """Every problem code the API can answer with, by code (sorted)."""
    autodiscover_modules("errors")
    problems: dict[str, Problem] = {}
    for error_class in _subclasses(DomainError):
        code = error_class.code
        if code in problems and error_class.__doc__ is None:
            continue  # a subclass that only narrows the message: keep the documented entry
        problems[code] = Problem(
            code=code, status=error_class.status, title=error_class.title, description=_doc(error_class)
        )
    for drf_class, code in DRF_CODES.items():
        problems.setdefault(
            code,
            Problem(
                code=code, status=drf_class.status_code, title=status_title(drf_class.status_code),
                description="" if "{" in str(drf_class.default_detail) else str(drf_class.default_detail),
            ),
        )
    problems["validation_error"] = Problem(
        code="validation_error", status=400, title=status_title(400),
        description="One or more fields are invalid; `errors` maps each field to its messages.",
    )
    return dict(sorted(problems.items()))


def problem_list(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "problems.html", {"problems": problem_catalogue().values()})


def problem_detail(request: HttpRequest, code: str) -> HttpResponse:
    problem = problem_catalogue().get(code)
    if problem is None:
        raise Http404(f"No problem {code!r}.")
    return TemplateResponse(request, "problems.html", {"problems": [problem], "single": True})


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    found: list[type[DomainError]] = []
    for subclass in cls.__subclasses__():
        found.append(subclass)
        found.extend(_subclasses(subclass))
    return [DomainError, *found] if cls is DomainError else found


def _doc(error_class: type) -> str:
    own = error_class.__dict__.get("__doc__")
    return inspect.cleandoc(own) if own else ""

