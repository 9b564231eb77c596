"""Seed the currencies the platform launches with. Currencies are data: add more in admin.

Scales are the ledger's precision, chosen so any realistic balance fits in 2**63-1 minor units:
BTC 8 (satoshi), ETH 9 (gwei, not wei: 18 places would cap a balance near 9.2 ETH), USDT 6 (its
token precision), DOGE 8, BNB 8, MATIC 9, fiat at 2 (cents).
"""

from django.db import migrations

CURRENCIES = [
    ("BTC", "Bitcoin", "crypto", 8),
    ("ETH", "Ether", "crypto", 9),
    ("DOGE", "Dogecoin", "crypto", 8),
    ("USDT", "Tether USD", "crypto", 6),
    ("BNB", "BNB", "crypto", 8),
    ("MATIC", "Polygon", "crypto", 9),
    ("USD", "US Dollar", "fiat", 2),
    ("EUR", "Euro", "fiat", 2),
    ("MXN", "Mexican Peso", "fiat", 2),
]


def seed(apps, schema_editor):
    Currency = apps.get_model("ledger", "Currency")
    for code, name, kind, scale in CURRENCIES:
        Currency.objects.update_or_create(code=code, defaults={"name": name, "kind": kind, "scale": scale})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
