"""Prices per instance type, per hour: ``PriceTable``, with a small default table.

Never fetched at run time: the default table below states its date and source, and the
config's ``pricing:`` section replaces or extends it. A month is 730 hours, as Azure's
pricing calculator counts it.

    table = PriceTable.default().with_overrides({"Standard_DS3_v2": 0.25}, currency="USD")
    table.hourly("Standard_DS3_v2")      # 0.25 (None when the type is not in the table)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["DEFAULT_PRICES", "HOURS_PER_MONTH", "PriceTable", "format_money"]

#: Hours in a month, as the Azure pricing calculator counts them.
HOURS_PER_MONTH = 730

#: Approximate pay-as-you-go list prices of Linux virtual machines in East US, USD per hour
#: (managed online endpoints bill per instance at about the VM's price), as of 2026-11, after
#: https://azure.microsoft.com/pricing/details/virtual-machines/linux/ . Not checked against
#: Microsoft's current price list (it could not be read from here); prices change and differ
#: by region and agreement: override them under ``pricing:`` in the config.
DEFAULT_PRICES: Mapping[str, float] = MappingProxyType(
    {
        "Standard_DS1_v2": 0.073,
        "Standard_DS2_v2": 0.146,
        "Standard_DS3_v2": 0.293,
        "Standard_DS4_v2": 0.585,
        "Standard_D2as_v4": 0.096,
        "Standard_D4as_v4": 0.192,
        "Standard_F2s_v2": 0.0846,
        "Standard_F4s_v2": 0.169,
        "Standard_F8s_v2": 0.338,
        "Standard_E4s_v3": 0.252,
        "Standard_NC6s_v3": 3.06,
    }
)
DEFAULT_SOURCE = (
    "approximate Azure Linux VM pay-as-you-go list prices, East US, unverified; set yours"
    " under pricing:"
)
DEFAULT_AS_OF = "2026-11"
DEFAULT_CURRENCY = "USD"

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount: float, currency: str) -> str:
    """``$1,520`` for whole amounts of 100 and more, ``$0.29`` below; ISO code otherwise."""
    text = f"{amount:,.0f}" if amount >= 100 else f"{amount:,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


@dataclass(frozen=True, kw_only=True)
class PriceTable:
    """Hourly prices by instance type (Azure's names, compared without regard to case)."""

    per_hour: Mapping[str, float] = field(default_factory=dict)
    currency: str = DEFAULT_CURRENCY
    source: str = DEFAULT_SOURCE
    as_of: str = DEFAULT_AS_OF

    @classmethod
    def default(cls) -> PriceTable:
        """The built-in table (see ``DEFAULT_PRICES``)."""
        return cls(per_hour=dict(DEFAULT_PRICES))

    def with_overrides(
        self,
        prices: Mapping[str, float],
        *,
        currency: str | None = None,
        source: str | None = None,
        as_of: str | None = None,
    ) -> PriceTable:
        """This table with ``prices`` over it; another currency drops every built-in price."""
        base = dict(self.per_hour) if currency in (None, self.currency) else {}
        base.update(prices)
        changed = bool(prices) or currency not in (None, self.currency)
        return PriceTable(
            per_hour=base,
            currency=currency or self.currency,
            source=source or ("your config and " + self.source if changed else self.source),
            as_of=as_of or self.as_of,
        )

    def hourly(self, instance_type: str) -> float | None:
        """The price of one instance for an hour; ``None`` when the type is not priced."""
        wanted = instance_type.lower()
        for name, price in self.per_hour.items():
            if name.lower() == wanted:
                return price
        return None
