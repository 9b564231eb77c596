"""What the shared API machinery reads from `request.auth`.

Authentication (accounts) stores a Caller there; core (idempotency, throttling, id fields) must
not import accounts, so it reads the caller through this Protocol rather than by duck typing.
"""

from typing import Protocol, runtime_checkable


@runtime_checkable
class CallerLike(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def client_id(self) -> int | None: ...

    @property
    def is_platform_staff(self) -> bool: ...

    @property
    def idempotency_scope(self) -> str: ...

    @property
    def throttle_key(self) -> str: ...
