"""Custody reconciliation: what our addresses hold on chain against the ledger's custody accounts.

Per currency, in the chain's base units:

    on chain == -(sum of every client's custody account) × 10^(chain decimals − ledger scale)
                + dust of credited deposits + amounts of deposits not credited yet

Custody accounts are negative by what the chain holds for users (deposits) and move back with
withdrawals and the gas they burn, so the two sides agree exactly when nothing is missing.
Networks under manual custody cannot be observed from here and are listed as not checked.
"""

from django.db.models import Sum

from chain.adapters import adapter_for
from chain.errors import ChainUnavailableError, CustodyConfigurationError
from chain.models import ChainDeposit, CustodyReconciliation, DepositAddress, Network, NetworkAsset
from ledger.models import Account


def custody_reconcile() -> CustodyReconciliation:
    lines = []
    for network in Network.objects.filter(is_active=True).order_by("code"):
        adapter = adapter_for(network)
        for asset in NetworkAsset.objects.filter(network=network).select_related("currency").order_by("currency"):
            if adapter.is_manual:
                lines.append({"network": network.code, "currency": asset.currency_id, "checked": False,
                              "note": "manual custody: balances are held by the custodian"})
                continue
            addresses = list(DepositAddress.objects.filter(
                network=network, derivation_index__isnull=False).values_list("address", flat=True))
            try:
                hot_wallet = adapter.hot_wallet_address()
                if hot_wallet:
                    addresses.insert(0, hot_wallet)
                on_chain = sum(adapter.balance(address=address, asset=asset) or 0 for address in addresses)
            except (ChainUnavailableError, CustodyConfigurationError) as error:
                lines.append({"network": network.code, "currency": asset.currency_id, "checked": False,
                              "error": error.detail})
                continue
            factor = 10 ** (asset.chain_decimals - asset.currency.scale)
            custody = Account.objects.filter(currency=asset.currency, kind=Account.Kind.CUSTODY).aggregate(
                total=Sum("balance"))["total"] or 0
            deposits = ChainDeposit.objects.filter(network=network, currency=asset.currency)
            dust = deposits.filter(status__in=[ChainDeposit.Status.CREDITED, ChainDeposit.Status.BELOW_PRECISION])
            pending = deposits.filter(status=ChainDeposit.Status.PENDING)
            expected = (
                -custody * factor
                + (dust.aggregate(total=Sum("dust"))["total"] or 0)
                + (pending.aggregate(total=Sum("amount"))["total"] or 0) * factor
                + (pending.aggregate(total=Sum("dust"))["total"] or 0)
            )
            lines.append({
                "network": network.code, "currency": asset.currency_id, "checked": True,
                "on_chain": str(on_chain), "ledger": str(expected), "difference": str(on_chain - expected),
                "addresses": len(addresses),
            })
    # A network that could not be read is a failed check, not a pass.
    is_ok = all(line["difference"] == "0" if line["checked"] else "error" not in line for line in lines)
    return CustodyReconciliation.objects.create(is_ok=is_ok, lines=lines)
