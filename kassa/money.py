from __future__ import annotations

import decimal
import re
from dataclasses import dataclass
from typing import Final

# Money as Stripe counts it: an integer `amount` in the currency's minor unit plus a lower-case
# ISO 4217 code. Pure (stdlib only) and float-free: text becomes money through decimal.Decimal
# and integer arithmetic only.
#
# Every currency rule below cites "Supported currencies", https://docs.stripe.com/currencies
# (sections "Zero-decimal currencies", "Three-decimal currencies", "Special cases",
# "Minimum and maximum charge amounts"), abbreviated [currencies#<section>].
#
# Minimum charge amounts are deliberately NOT checked here: Stripe evaluates them against the
# *settlement* currency after conversion (e.g. 0.50 USD, 0.30 GBP, 175.00 HUF)
# [currencies#minimum-and-maximum-charge-amounts], which this module cannot know. Stripe
# enforces them and its error is surfaced by the caller.

__all__ = [
    "MAX_MINOR_UNITS",
    "SUPPORTED_CURRENCIES",
    "InvalidAmount",
    "Money",
    "MoneyError",
    "UnsupportedCurrency",
    "currency_exponent",
    "format_minor",
    "normalize_currency",
    "validate_charge_amount",
]

# [currencies#minimum-and-maximum-charge-amounts]: "8 digits for all other currencies, for a
# maximum charge of 999,999.99 (99999999)". Stripe documents larger limits for a few currencies
# (IDR 12 digits, INR 9; for card payments also LBP, COP, HUF, JPY; Amex and JCB/Diners/Discover
# in Japan have their own caps). We apply the common 8-digit limit to every currency: it never
# lets through an amount Stripe would refuse for its length, at the price of refusing larger
# charges Stripe would take in those currencies (notably IDR: 999,999.99 IDR is only ~60 USD).
MAX_MINOR_UNITS: Final[int] = 99_999_999


class MoneyError(ValueError):
    """Base of all money errors. `field` names the offending input; callers set it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field: str | None = field


class InvalidAmount(MoneyError):
    """The amount is malformed, or not an amount Stripe accepts for a charge."""


class UnsupportedCurrency(MoneyError):
    """The currency is not one Stripe can charge cards in."""


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# [currencies#zero-decimal]: the charge and the `amount` are the same number. Stripe's list also
# names UGX, but its Special cases table overrides that (see _WHOLE_UNITS_ONLY).
_ZERO_DECIMAL: Final = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf vnd vuv xaf xof xpf")

# [currencies#three-decimal]: "these API calls require the least-significant (last) digit to be
# 0 ... 5.124 KWD must be rounded to 5120 or 5130". We refuse instead of rounding: quietly
# charging a different amount than the one asked for is worse than an error.
_THREE_DECIMAL: Final = _codes("bhd jod kwd omr tnd")

# [currencies#special-cases], ISK and UGX: each "transitioned to a zero-decimal currency, but
# backwards compatibility requires you to represent it as a two-decimal value, where the decimal
# amount is always 00. For example, to charge 5 ISK, provide an amount value of 500. You can't
# charge fractions of ISK" (same wording for UGX). So: exponent 2, and a charge's minor amount
# must be a multiple of 100. The API enforces it: "Currency ISK has become effectively
# zero-decimal and charged amounts must be evenly divisible by 100" (support.stripe.com/questions/
# deprecation-of-fractional-isk-charges-and-refunds; the same error is reported for UGX).
#
# HUF and TWD are *not* here on purpose. The same table says "Stripe treats HUF [TWD] as a
# zero-decimal currency for payouts, even though you can charge two-decimal amounts": the
# whole-unit rule binds manual payouts only, so for charges both are ordinary two-decimal.
_WHOLE_UNITS_ONLY: Final = frozenset({"isk", "ugx"})

# [currencies#presentment-currencies]: the card presentment currencies Stripe lists (the list
# varies slightly by account country; this is the union). The three-decimal ones are listed for
# some account countries only (e.g. the UAE). "xcg" (Caribbean guilder, which replaces "ang"
# from 2025) is in recent copies of the list.
SUPPORTED_CURRENCIES: Final[frozenset[str]] = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xcg xof xpf yer zar zmw
    """
)

# ASCII only: Python's \d (and Decimal) also accept other scripts' digits, e.g. U+FF10 or U+0661.
_PLAIN_DECIMAL: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)

# Never rounds in practice (amounts are capped at 8 digits before scaling); trapping Inexact
# makes that a guarantee that does not depend on the caller's thread-local decimal context.
_EXACT: Final = decimal.Context(prec=40, traps=[decimal.Inexact, decimal.InvalidOperation])


def normalize_currency(code: str) -> str:
    """Return `code` stripped and lower-cased, as Stripe wants it, if Stripe supports it."""
    if not isinstance(code, str):
        raise UnsupportedCurrency(f"currency must be a string, got {type(code).__name__}")
    normalized = code.strip().lower()
    if normalized not in SUPPORTED_CURRENCIES:
        raise UnsupportedCurrency(
            f"currency {_show(code)} is not supported for Stripe card charges;"
            " use a three-letter ISO 4217 code such as 'usd' or 'eur'"
        )
    return normalized


def currency_exponent(currency: str) -> int:
    """Decimal places of Stripe's `amount` for `currency`: 0, 2 or 3."""
    code = normalize_currency(currency)
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `minor` units of `currency` (lower-case), as in Stripe's `amount`."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True cents is always a bug.
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise InvalidAmount(
                f"amount in minor units must be an int, got {type(self.minor).__name__}"
            )
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a positive decimal string in major units ("25.00") as a chargeable amount."""
        code = normalize_currency(currency)
        exponent = currency_exponent(code)
        major = _parse_plain_decimal(text, code, exponent)
        if major > _to_major(MAX_MINOR_UNITS, exponent):
            raise _too_large(code, exponent)
        minor = int(_EXACT.scaleb(major, exponent))
        return validate_charge_amount(cls(minor, code))

    @classmethod
    def of_minor(cls, minor: int, currency: str) -> Money:
        """Wrap a minor-unit amount as is (zero and negative allowed: balances, refunds)."""
        return cls(minor, currency)

    def to_decimal(self) -> decimal.Decimal:
        """Major units with exactly the currency's decimal places: Decimal("25.00")."""
        return _to_major(self.minor, currency_exponent(self.currency))

    def format(self) -> str:
        """Plain decimal in major units, e.g. "25.00", "-3.50", "1000", "5.120"."""
        return format_minor(self.minor, self.currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract")
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def _require_same_currency(self, other: Money, verb: str) -> None:
        # A plain ValueError, not a MoneyError: mixing currencies is a programming error, not
        # bad user input that a caller should turn into a validation message.
        if other.currency != self.currency:
            raise ValueError(
                f"cannot {verb} {other.currency.upper()} and {self.currency.upper()} amounts"
            )


def format_minor(minor: int, currency: str) -> str:
    """`minor` units of `currency` as plain decimal major units, with exactly the currency's
    decimal places: "25.00", "-3.50", "1000", "5.120". Integer arithmetic only (lists show
    thousands of amounts; this is the same text as the Decimal's, several times cheaper)."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return str(minor)
    whole, fraction = divmod(abs(minor), 10**exponent)
    return f"{'-' if minor < 0 else ''}{whole}.{fraction:0{exponent}d}"


def validate_charge_amount(money: Money) -> Money:
    """Return `money` if Stripe accepts it as a charge `amount`, else raise InvalidAmount."""
    code, minor = money.currency, money.minor
    exponent = currency_exponent(code)
    label = code.upper()
    if minor <= 0:
        raise InvalidAmount(
            f"{label} charge amounts must be greater than zero, got {money.format()}"
        )
    if minor > MAX_MINOR_UNITS:
        raise _too_large(code, exponent)
    if code in _THREE_DECIMAL and minor % 10 != 0:
        raise InvalidAmount(
            f"{label} charge amounts must have 0 as the third decimal digit: Stripe requires"
            f" the last digit of a three-decimal amount to be 0, got {money.format()}"
        )
    if code in _WHOLE_UNITS_ONLY and minor % 100 != 0:
        raise InvalidAmount(
            f"{label} charge amounts must be whole units: Stripe takes {label} with two"
            f" decimals that must be 00, got {money.format()}"
        )
    return money


def _parse_plain_decimal(text: str, code: str, exponent: int) -> decimal.Decimal:
    label = code.upper()
    if not isinstance(text, str):
        raise InvalidAmount(f"{label} amount must be a string, got {type(text).__name__}")
    match = _PLAIN_DECIMAL.fullmatch(text.strip())
    if match is None:
        raise InvalidAmount(
            f"{label} amount must be a plain positive decimal like '12.50' (ASCII digits,"
            f" optional '.' and fraction; no sign, exponent or separators), got {_show(text)}"
        )
    fraction = match.group(2) or ""
    # Strict on purpose: "12.500" USD is refused even though it equals 12.50. An amount that
    # carries more precision than the currency has is more likely a unit mix-up than intent,
    # and one rule ("at most N decimals") is easier to state and test than "unless zeros".
    if len(fraction) > exponent:
        raise InvalidAmount(f"{_decimals_rule(label, exponent)}, got {_show(text)}")
    return decimal.Decimal(match.group(0))


def _decimals_rule(label: str, exponent: int) -> str:
    if exponent == 0:
        return f"{label} amounts have no decimal places (not even trailing zeros)"
    return f"{label} amounts have at most {exponent} decimal places (trailing zeros count)"


def _to_major(minor: int, exponent: int) -> decimal.Decimal:
    # Built from the digit tuple: exact for any size, whatever the active decimal context.
    sign, digits, _ = decimal.Decimal(minor).as_tuple()
    return decimal.Decimal((sign, digits, -exponent))


def _too_large(code: str, exponent: int) -> InvalidAmount:
    limit = _to_major(MAX_MINOR_UNITS, exponent)
    return InvalidAmount(
        f"{code.upper()} charge amounts are limited to 8 digits in minor units,"
        f" at most {limit:f} {code.upper()}"
    )


def _show(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."
