"""Seed the networks the platform launches with. Networks are data: edit them in admin.

Ethereum (ETH native, USDT as the ERC-20 contract on mainnet) is served by web3.py; Bitcoin by
manual custody (a custodian's cold storage). `chain_devnode` points USDT at its own contract on
the development chain.
"""

from django.db import migrations

NETWORKS = [
    {
        "code": "ethereum", "name": "Ethereum", "address_kind": "ethereum",
        "adapter": "chain.adapters.ethereum.EthereumAdapter", "confirmations_required": 12,
        "explorer_tx_url": "https://etherscan.io/tx/{tx_hash}",
        "explorer_address_url": "https://etherscan.io/address/{address}",
        "assets": [("ETH", "", 18, 0), ("USDT", "0xdAC17F958D2ee523a2206206994597C13D831ec7", 6, 1_000_000)],
    },
    {
        "code": "bitcoin", "name": "Bitcoin", "address_kind": "bitcoin",
        "adapter": "chain.adapters.manual.ManualCustodyAdapter", "confirmations_required": 3,
        "explorer_tx_url": "https://mempool.space/tx/{tx_hash}",
        "explorer_address_url": "https://mempool.space/address/{address}",
        "assets": [("BTC", "", 8, 10_000)],
    },
]


def seed(apps, schema_editor):
    Network = apps.get_model("chain", "Network")
    NetworkAsset = apps.get_model("chain", "NetworkAsset")
    Currency = apps.get_model("ledger", "Currency")
    for row in NETWORKS:
        fields = {key: value for key, value in row.items() if key not in ("code", "assets")}
        network, _ = Network.objects.update_or_create(code=row["code"], defaults=fields)
        for code, contract, decimals, fee in row["assets"]:
            if Currency.objects.filter(code=code).exists():
                NetworkAsset.objects.update_or_create(
                    network=network, currency_id=code,
                    defaults={"contract_address": contract, "chain_decimals": decimals, "withdrawal_fee": fee},
                )


class Migration(migrations.Migration):
    dependencies = [("chain", "0001_networks_addresses_deposits_withdrawals"), ("ledger", "0002_seed_currencies")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
