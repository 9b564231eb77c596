"""The one base for domain errors.

Every rule a service enforces raises a subclass with a stable `code` (a slug clients may switch
on) and the HTTP status the API answers with. The API's exception handler renders them as
RFC 9457 problem details; nothing else needs to know about HTTP.
"""

from typing import Any


class DomainError(Exception):
    code: str = "domain_error"
    status: int = 422
    title: str = "Request rejected"

    def __init__(self, detail: str | None = None, *, errors: dict[str, Any] | None = None):
        self.detail = detail or self.title
        self.errors = errors
        super().__init__(self.detail)


class InvalidInputError(DomainError):
    """Malformed input: the request can never succeed as sent."""

    code = "validation_error"
    status = 400
    title = "Invalid input"


class NotFoundError(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    status = 403
    title = "Permission denied"


class ConflictError(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"


class RuleViolationError(DomainError):
    """Well-formed input that a business rule refuses."""

    code = "rule_violation"
    status = 422
    title = "Rule violation"
