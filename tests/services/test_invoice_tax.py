"""Tax included in a price, as invoices show it: exact minor units, rounded half up."""

from __future__ import annotations

import pytest

from kassa.services.invoices import Seller


@pytest.mark.parametrize(
    ("rate_bp", "total", "tax"),
    [
        (0, 123456, 0),  # none configured: shown as zero
        (810, 123456, 9251),  # 8.1 % of 1,234.56 included: 92.5063 → 92.51
        (1000, 1000, 91),  # 10 % in 1,000 JPY: 90.9 → 91
        (2000, 6, 1),  # 20 % in 0.06: exactly 0.01
        (1000, 11, 1),  # 10 % in 0.11: exactly 0.01
        (10000, 1, 1),  # 100 % in 0.01: 0.005, the half rounds up
    ],
)
def test_tax_in_a_price(rate_bp: int, total: int, tax: int) -> None:
    assert Seller("kassa", tax_rate_bp=rate_bp).tax_in(total) == tax
