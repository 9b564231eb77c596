"""Deposit addresses: derived from the HD seed, or taken from a custodian's file."""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from chain.adapters import adapter_for
from chain.addresses import address_normalize
from chain.errors import InvalidAddressError, NoDepositAddressError, WrongNetworkError
from chain.models import DepositAddress, Network, NetworkAsset
from ledger.errors import InactiveAccountError
from ledger.models import Currency


def network_asset_get(*, currency: Currency, network_code: str | None = None) -> NetworkAsset:
    """The network asset that carries `currency` (on `network_code` when given). A currency on
    several networks needs the network named; one on none, or on another network, is refused.
    Raises WrongNetworkError."""
    assets = NetworkAsset.objects.select_related("network", "currency").filter(
        currency=currency, network__is_active=True
    )
    if network_code:
        asset = assets.filter(network__code=network_code).first()
        if asset is None:
            raise WrongNetworkError(f"Network {network_code!r} does not carry {currency.code}.")
        return asset
    found = list(assets[:2])
    if not found:
        raise WrongNetworkError(f"{currency.code} is not carried by any network here.")
    if len(found) > 1:
        raise WrongNetworkError(f"{currency.code} is carried by several networks: name one.")
    return found[0]


def deposit_address_assign(*, user: User, asset: NetworkAsset) -> tuple[DepositAddress, bool]:
    """The user's active address on the asset's network, assigned now if there is none yet
    (idempotent: a second call returns the same address, and False).

    Derived networks take the next HD index under a lock on the network row; manual custody
    takes the oldest unassigned address from the custodian's file. Unique constraints (one active
    address per user and network, unique address and index) are the backstop.
    Raises InactiveAccountError, NoDepositAddressError, CustodyConfigurationError.
    """
    if not user.is_active or user.client_id is None or not user.is_end_user:
        raise InactiveAccountError("Deposit addresses are for active end users.")
    network = asset.network
    existing = DepositAddress.objects.filter(user=user, network=network, is_active=True).first()
    if existing is not None:
        return existing, False
    adapter = adapter_for(network)
    try:
        with transaction.atomic():
            Network.objects.select_for_update().filter(pk=network.pk).first()
            existing = DepositAddress.objects.filter(user=user, network=network, is_active=True).first()
            if existing is not None:
                return existing, False
            if adapter.is_manual:
                address = _take_from_pool(network=network, user=user)
            else:
                last = DepositAddress.objects.filter(network=network).aggregate(last=Max("derivation_index"))["last"]
                index = max(last + 1 if last is not None else 0, adapter.first_deposit_index)
                address = DepositAddress.objects.create(
                    network=network, client_id=user.client_id, user=user, address=adapter.derive_address(index),
                    derivation_index=index, assigned_at=timezone.now(),
                )
            audit_record(action="chain.deposit_address_assigned", obj=address, client=user.client_id,
                         after={"user": user.pk, "network": network.code, "address": address.address})
            return address, True
    except IntegrityError:
        return DepositAddress.objects.get(user=user, network=network, is_active=True), False


def _take_from_pool(*, network: Network, user: User) -> DepositAddress:
    address = (
        DepositAddress.objects.select_for_update().filter(network=network, user__isnull=True, is_active=True)
        .order_by("pk").first()
    )
    if address is None:
        raise NoDepositAddressError(f"No unassigned {network.name} address is left; load the custodian's file.")
    address.user, address.client_id, address.assigned_at = user, user.client_id, timezone.now()
    address.save(update_fields=["user", "client", "assigned_at"])
    return address


def deposit_addresses_load(*, network: Network, addresses: list[str]) -> int:
    """Add a custodian's addresses to the network's unassigned pool, all or nothing; each is
    validated with the network's rules, and one already known is skipped. Returns how many were
    added. Raises InvalidAddressError (naming the line)."""
    normalized = []
    for line_number, address in enumerate(addresses, start=1):
        try:
            normalized.append(address_normalize(network=network, address=address))
        except InvalidAddressError as error:
            raise InvalidAddressError(f"line {line_number}: {error.detail}") from None
    known = set(
        DepositAddress.objects.filter(network=network, address__in=normalized).values_list("address", flat=True)
    )
    fresh = list(dict.fromkeys(address for address in normalized if address not in known))
    with transaction.atomic():
        DepositAddress.objects.bulk_create([DepositAddress(network=network, address=address) for address in fresh])
        audit_record(action="chain.deposit_addresses_loaded", client=None,
                     after={"network": network.code, "added": len(fresh)})
    return len(fresh)
