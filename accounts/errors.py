"""Rule violations for tenants and their users, each with a stable code the API exposes."""

from core.errors import ConflictError


class UserAlreadyExistsError(ConflictError):
    code = "already_exists"
    title = "Already exists"


class ClientAlreadyExistsError(ConflictError):
    code = "already_exists"
    title = "Client already exists"
