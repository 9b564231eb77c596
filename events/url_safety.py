"""Where webhooks may be sent: refuse URLs that would reach inside our own network (SSRF).

With WEBHOOK_ALLOW_PRIVATE_URLS off (production): `https://` only, and every address the host
resolves to must be public — no loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
link-local (169.254/16 with the cloud metadata address, fe80::/10), shared, reserved, multicast
or unspecified address, including IPv4 written inside IPv6. The check runs when an endpoint is
registered and again before every delivery, after resolving the name; the delivery then connects
to the very address that was checked (a name may resolve differently from one moment to the next).
With the setting on (development, tests): `http://` and private addresses are allowed, and names
are not resolved in advance.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import InvalidInputError


class UnsafeWebhookUrlError(InvalidInputError):
    code = "unsafe_webhook_url"
    title = "Webhook URL not allowed"


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `address`, present `host` (TLS name and Host header)."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def webhook_url_check(url: str) -> Target:
    """The address to deliver `url` to, or UnsafeWebhookUrlError saying why it is refused."""
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeWebhookUrlError("The URL cannot be parsed.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_private):
        raise UnsafeWebhookUrlError("Webhook URLs must use https://.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrlError("Webhook URLs cannot carry credentials.")
    host = parts.hostname
    if not host:
        raise UnsafeWebhookUrlError("The URL has no host.")
    port = port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if allow_private:
        # Nothing to check: the connection resolves the name itself.
        return Target(scheme=scheme, host=host, port=port, address=host, path=path)
    addresses = _resolve(host, port)
    for address in addresses:
        if not _is_public(address):
            raise UnsafeWebhookUrlError(f"{host} resolves to {address}, which is not a public address.")
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeWebhookUrlError(f"{host} does not resolve.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeWebhookUrlError(f"{host} does not resolve.")
    return addresses


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not _is_public(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast
