from __future__ import annotations

import dataclasses
import decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.money import (
    MAX_MINOR_UNITS,
    SUPPORTED_CURRENCIES,
    InvalidAmount,
    Money,
    MoneyError,
    UnsupportedCurrency,
    currency_exponent,
    normalize_currency,
    validate_charge_amount,
)

# The rules restated independently of kassa.money, from https://docs.stripe.com/currencies.
ZERO_DECIMAL = {
    *("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"),
    *("pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"),
}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
WHOLE_UNITS_ONLY = {"isk", "ugx"}  # two-decimal in the API, decimal part always 00
CURRENCIES = sorted(SUPPORTED_CURRENCIES)


def expected_exponent(code: str) -> int:
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def charge_step(code: str) -> int:
    """The minor-unit granularity Stripe accepts for a charge in `code`."""
    if code in THREE_DECIMAL:
        return 10
    return 100 if code in WHOLE_UNITS_ONLY else 1


def chargeable_minor(code: str) -> st.SearchStrategy[int]:
    step = charge_step(code)
    return st.integers(1, MAX_MINOR_UNITS // step).map(lambda n: n * step)


# --- currencies -------------------------------------------------------------------------------


def test_supported_currencies_are_lower_case_iso_codes() -> None:
    assert all(len(c) == 3 and c.isascii() and c.isalpha() and c.islower() for c in CURRENCIES)
    assert {"usd", "eur", "gbp", "jpy", "kwd", "isk", "huf", "twd", "ugx"} <= SUPPORTED_CURRENCIES
    assert ZERO_DECIMAL | THREE_DECIMAL | WHOLE_UNITS_ONLY <= SUPPORTED_CURRENCIES


@pytest.mark.parametrize("code", CURRENCIES)
def test_currency_exponent(code: str) -> None:
    assert currency_exponent(code) == expected_exponent(code)
    assert currency_exponent(code.upper()) == expected_exponent(code)


@pytest.mark.parametrize("raw", ["USD", "usd", " Usd\n", "\tuSD "])
def test_normalize_currency_strips_and_lowercases(raw: str) -> None:
    assert normalize_currency(raw) == "usd"
    assert Money.of_minor(1, raw).currency == "usd"
    assert Money.parse("1", raw).currency == "usd"


@pytest.mark.parametrize("raw", ["xyz", "", " ", "us", "usdd", "u s d", "hrk", "\uff35SD"])
def test_unsupported_currency(raw: str) -> None:
    with pytest.raises(UnsupportedCurrency, match="not supported"):
        normalize_currency(raw)
    with pytest.raises(UnsupportedCurrency):
        Money.of_minor(100, raw)
    with pytest.raises(UnsupportedCurrency):
        Money.parse("1.00", raw)
    with pytest.raises(UnsupportedCurrency):
        currency_exponent(raw)


def test_currency_must_be_a_string() -> None:
    bad: Any = None
    with pytest.raises(UnsupportedCurrency):
        normalize_currency(bad)
    with pytest.raises(UnsupportedCurrency):
        Money.of_minor(1, bad)


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CURRENCIES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_parse_format_round_trip(code: str, data: st.DataObject) -> None:
    minor = data.draw(chargeable_minor(code), label="minor")
    money = Money.of_minor(minor, code)
    assert Money.parse(money.format(), code) == money
    assert Money.parse(money.format(), code.upper()) == money


@pytest.mark.parametrize("code", CURRENCIES)
def test_round_trip_at_the_edges(code: str) -> None:
    step = charge_step(code)
    for minor in (step, MAX_MINOR_UNITS - MAX_MINOR_UNITS % step):
        money = Money.of_minor(minor, code)
        assert Money.parse(money.format(), code) == money


@given(minor=st.integers(-(10**30), 10**30), code=st.sampled_from(CURRENCIES))
@settings(max_examples=200)
def test_to_decimal_is_exact(minor: int, code: str) -> None:
    value = Money.of_minor(minor, code).to_decimal()
    exponent = expected_exponent(code)
    assert value.as_tuple().exponent == -exponent
    assert value.scaleb(exponent, decimal.Context(prec=100)) == minor


# --- formatting -------------------------------------------------------------------------------


@given(minor=st.integers(-(10**30), 10**30), code=st.sampled_from(CURRENCIES))
@settings(max_examples=300)
def test_format_is_the_exact_decimal(minor: int, code: str) -> None:
    # format() works in integers; it must say what the exact Decimal says.
    assert Money.of_minor(minor, code).format() == f"{Money.of_minor(minor, code).to_decimal():f}"


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (2500, "usd", "25.00"),
        (1, "usd", "0.01"),
        (0, "usd", "0.00"),
        (-350, "usd", "-3.50"),
        (-1, "eur", "-0.01"),
        (1000, "jpy", "1000"),
        (-5, "jpy", "-5"),
        (5120, "kwd", "5.120"),
        (-5125, "kwd", "-5.125"),
        (1, "bhd", "0.001"),
        (500, "isk", "5.00"),
        (500, "ugx", "5.00"),
        (1045, "huf", "10.45"),
        (80045, "twd", "800.45"),
        (10**20, "usd", "1000000000000000000.00"),
    ],
)
def test_format(minor: int, code: str, text: str) -> None:
    money = Money.of_minor(minor, code)
    assert money.format() == text
    assert money.to_decimal() == decimal.Decimal(text)
    assert str(money.to_decimal()) == text


def test_to_decimal_is_quantized_to_the_exponent() -> None:
    assert Money.of_minor(2500, "usd").to_decimal().as_tuple() == (0, (2, 5, 0, 0), -2)
    assert Money.of_minor(1000, "jpy").to_decimal().as_tuple() == (0, (1, 0, 0, 0), 0)
    assert Money.of_minor(5120, "kwd").to_decimal().as_tuple() == (0, (5, 1, 2, 0), -3)


# --- parsing: valid ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("25", "usd", 2500),
        ("25.0", "usd", 2500),
        ("25.00", "usd", 2500),
        ("0.5", "usd", 50),
        ("0.01", "usd", 1),
        ("007.10", "eur", 710),
        ("  12.34\n", "usd", 1234),
        ("999999.99", "usd", MAX_MINOR_UNITS),
        ("1000", "jpy", 1000),
        ("99999999", "jpy", MAX_MINOR_UNITS),
        ("5.12", "kwd", 5120),
        ("5.120", "kwd", 5120),
        ("1", "omr", 1000),
        ("99999.99", "tnd", 99_999_990),
    ],
)
def test_parse_valid(text: str, code: str, minor: int) -> None:
    assert Money.parse(text, code) == Money.of_minor(minor, code)


# --- parsing: invalid -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("0", "usd", "greater than zero"),
        ("0.00", "usd", "greater than zero"),
        ("0", "jpy", "greater than zero"),
        ("-1", "usd", "plain positive decimal"),
        ("+5", "usd", "plain positive decimal"),
        ("12.345", "usd", "USD amounts have at most 2 decimal places"),
        ("12.500", "usd", "USD amounts have at most 2 decimal places"),
        ("12.5", "jpy", "JPY amounts have no decimal places"),
        ("12.0", "jpy", "JPY amounts have no decimal places"),
        ("5.125", "kwd", "KWD charge amounts must have 0 as the third decimal digit"),
        ("5.1200", "kwd", "KWD amounts have at most 3 decimal places"),
        ("0.001", "bhd", "BHD charge amounts must have 0 as the third decimal digit"),
        ("1000000.00", "usd", "limited to 8 digits"),
        ("1000000", "usd", "limited to 8 digits"),
        ("100000000", "jpy", "limited to 8 digits"),
        ("100000", "kwd", "limited to 8 digits"),
        ("1e3", "usd", "plain positive decimal"),
        ("1E3", "usd", "plain positive decimal"),
        ("NaN", "usd", "plain positive decimal"),
        ("sNaN", "usd", "plain positive decimal"),
        ("Infinity", "usd", "plain positive decimal"),
        ("inf", "usd", "plain positive decimal"),
        (" ", "usd", "plain positive decimal"),
        ("", "usd", "plain positive decimal"),
        ("1,000", "usd", "plain positive decimal"),
        ("1_000", "usd", "plain positive decimal"),
        ("1 000", "usd", "plain positive decimal"),
        ("12,50", "eur", "plain positive decimal"),
        (".5", "usd", "plain positive decimal"),
        ("5.", "usd", "plain positive decimal"),
        ("$5", "usd", "plain positive decimal"),
        ("5 usd", "usd", "plain positive decimal"),
        ("0x10", "usd", "plain positive decimal"),
        ("\uff10", "usd", "plain positive decimal"),  # FULLWIDTH DIGIT ZERO
        ("\uff15", "jpy", "plain positive decimal"),  # FULLWIDTH DIGIT FIVE
        ("\u0661\u0662", "usd", "plain positive decimal"),  # ARABIC-INDIC "12"
        ("1" * 5000, "usd", "limited to 8 digits"),
    ],
)
def test_parse_invalid(text: str, code: str, message: str) -> None:
    with pytest.raises(InvalidAmount, match=message) as caught:
        Money.parse(text, code)
    assert caught.value.field is None


def test_parse_rejects_non_strings() -> None:
    for bad in (None, 5, b"5", 5.0, decimal.Decimal("5")):
        value: Any = bad
        with pytest.raises(InvalidAmount, match="must be a string"):
            Money.parse(value, "usd")


@given(
    whole=st.integers(0, 10**6),
    extra=st.text("0123456789", min_size=1, max_size=6),
    code=st.sampled_from(CURRENCIES),
)
def test_parse_rejects_more_decimals_than_the_exponent(whole: int, extra: str, code: str) -> None:
    fraction = "0" * expected_exponent(code) + extra
    with pytest.raises(InvalidAmount, match="decimal places"):
        Money.parse(f"{whole}.{fraction}", code)


@given(text=st.text(max_size=30), code=st.sampled_from(["usd", "jpy", "kwd", "isk"]))
@settings(max_examples=300)
def test_parse_only_ever_raises_invalid_amount(text: str, code: str) -> None:
    try:
        money = Money.parse(text, code)
    except InvalidAmount:
        return
    assert 0 < money.minor <= MAX_MINOR_UNITS
    assert text.strip().isascii()


def test_error_hierarchy_and_field() -> None:
    assert issubclass(InvalidAmount, MoneyError)
    assert issubclass(UnsupportedCurrency, MoneyError)
    assert issubclass(MoneyError, ValueError)
    assert MoneyError("x").field is None
    assert InvalidAmount("x", field="amount").field == "amount"
    error = UnsupportedCurrency("x")
    error.field = "currency"
    assert error.field == "currency"


# --- special cases (https://docs.stripe.com/currencies#special-cases) --------------------------


@pytest.mark.parametrize("code", sorted(WHOLE_UNITS_ONLY))
def test_isk_and_ugx_are_two_decimal_whole_units(code: str) -> None:
    label = code.upper()
    assert currency_exponent(code) == 2
    assert Money.parse("5", code).minor == 500
    assert Money.parse("5.00", code).minor == 500
    assert Money.parse("5.0", code).minor == 500
    for text in ("5.50", "5.5", "0.01", "5.01"):
        with pytest.raises(InvalidAmount, match=f"{label} charge amounts must be whole units"):
            Money.parse(text, code)
    with pytest.raises(InvalidAmount, match="whole units"):
        validate_charge_amount(Money.of_minor(1045, code))
    assert validate_charge_amount(Money.of_minor(1000, code)).minor == 1000
    assert Money.of_minor(1045, code).format() == "10.45"  # balances may still hold fractions


@pytest.mark.parametrize("code", ["huf", "twd"])
def test_huf_and_twd_charge_as_ordinary_two_decimal(code: str) -> None:
    # The whole-unit rule Stripe documents for HUF/TWD applies to payouts, not charges.
    assert currency_exponent(code) == 2
    assert Money.parse("10.45", code).minor == 1045
    assert Money.parse("800", code).minor == 80000
    assert validate_charge_amount(Money.of_minor(80045, code)).minor == 80045
    with pytest.raises(InvalidAmount, match="at most 2 decimal places"):
        Money.parse("10.455", code)


def test_ugx_is_not_zero_decimal() -> None:
    # Listed among Stripe's zero-decimal currencies, but sent as x100 (see Special cases).
    assert Money.parse("5000", "ugx").minor == 500_000
    assert Money.parse("5000", "jpy").minor == 5000


@pytest.mark.parametrize("code", sorted(THREE_DECIMAL))
def test_three_decimal_last_digit_must_be_zero(code: str) -> None:
    assert currency_exponent(code) == 3
    assert Money.parse("5.12", code).minor == 5120
    assert Money.parse("5.120", code).minor == 5120
    with pytest.raises(InvalidAmount, match="third decimal digit"):
        Money.parse("5.124", code)
    with pytest.raises(InvalidAmount, match="third decimal digit"):
        validate_charge_amount(Money.of_minor(5124, code))


# --- validate_charge_amount / of_minor --------------------------------------------------------


@pytest.mark.parametrize("minor", [0, -1, -2500, MAX_MINOR_UNITS + 1, 10**12])
def test_of_minor_does_not_validate_but_validate_charge_amount_does(minor: int) -> None:
    money = Money.of_minor(minor, "usd")
    assert money.minor == minor
    with pytest.raises(InvalidAmount):
        validate_charge_amount(money)


@pytest.mark.parametrize("code", CURRENCIES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_validate_charge_amount_accepts_chargeable(code: str, data: st.DataObject) -> None:
    money = Money.of_minor(data.draw(chargeable_minor(code), label="minor"), code)
    assert validate_charge_amount(money) is money


@pytest.mark.parametrize("bad", [True, False, 1.0, 2.5, decimal.Decimal(1), "100", None])
def test_minor_must_be_an_int(bad: object) -> None:
    value: Any = bad
    with pytest.raises(InvalidAmount, match="must be an int"):
        Money.of_minor(value, "usd")
    with pytest.raises(InvalidAmount, match="must be an int"):
        Money(value, "usd")


def test_money_is_frozen_and_hashable() -> None:
    money = Money.of_minor(100, "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.minor = 5  # type: ignore[misc]
    assert {money, Money.of_minor(100, "usd")} == {money}
    assert Money(100, "USD") == money
    assert Money.of_minor(100, "usd") != Money.of_minor(100, "eur")


# --- arithmetic -------------------------------------------------------------------------------


def test_arithmetic() -> None:
    a = Money.of_minor(2500, "usd")
    b = Money.of_minor(350, "USD")
    assert a + b == Money.of_minor(2850, "usd")
    assert a - b == Money.of_minor(2150, "usd")
    assert b - a == Money.of_minor(-2150, "usd")
    assert -a == Money.of_minor(-2500, "usd")
    negated = -a
    assert -negated == a
    assert (b - a).format() == "-21.50"
    assert a - a == Money.of_minor(0, "usd")


@given(
    x=st.integers(-(10**12), 10**12),
    y=st.integers(-(10**12), 10**12),
    code=st.sampled_from(CURRENCIES),
)
def test_arithmetic_is_exact(x: int, y: int, code: str) -> None:
    a, b = Money.of_minor(x, code), Money.of_minor(y, code)
    assert (a + b).minor == x + y
    assert (a - b) + b == a
    assert a + (-a) == Money.of_minor(0, code)
    assert (a + b).to_decimal() == a.to_decimal() + b.to_decimal()


def test_currency_mismatch() -> None:
    usd = Money.of_minor(100, "usd")
    eur = Money.of_minor(100, "eur")
    with pytest.raises(ValueError, match="cannot add EUR and USD"):
        usd + eur
    with pytest.raises(ValueError, match="cannot subtract"):
        usd - eur
    try:
        usd + eur
    except MoneyError:  # pragma: no cover - a mismatch is a bug, not a validation error
        pytest.fail("currency mismatch must not look like user-input validation")
    except ValueError:
        pass


def test_arithmetic_with_non_money_is_a_type_error() -> None:
    usd = Money.of_minor(100, "usd")
    other: Any = 1
    with pytest.raises(TypeError):
        usd + other
    with pytest.raises(TypeError):
        usd - other
    with pytest.raises(TypeError):
        other + usd
