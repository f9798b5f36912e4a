"""Exact money helpers: reading numbers, quantizing to steps, and plain-text formatting."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewire.domain.money import (
    ZERO,
    MoneyError,
    fmt,
    normalize,
    quantize_down,
    quantize_nearest,
    storable,
    to_decimal,
)

# --- to_decimal ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),
        (0.3, Decimal("0.3")),
        (1e-05, Decimal("0.00001")),
        (96388.12, Decimal("96388.12")),
        (5.0, Decimal("5.0")),
        (-2.5, Decimal("-2.5")),
    ],
)
def test_to_decimal_reads_floats_through_their_shortest_repr(value: float, expected: Decimal) -> None:
    result = to_decimal(value)

    assert result == expected
    assert str(result) == str(expected)


def test_to_decimal_does_not_use_the_binary_expansion_of_a_float() -> None:
    result = to_decimal(0.1)

    assert result != Decimal.from_float(0.1)
    assert result == Decimal("0.1")


def test_to_decimal_reads_ints_exactly() -> None:
    assert to_decimal(12345678901234567890) == Decimal("12345678901234567890")


def test_to_decimal_returns_decimals_unchanged() -> None:
    value = Decimal("1.2300")

    result = to_decimal(value)

    assert result is value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5", Decimal("1.5")),
        ("  1.5  ", Decimal("1.5")),
        ("\t42\n", Decimal("42")),
        ("1_000", Decimal("1000")),
        (" 1_000_000.000_1 ", Decimal("1000000.0001")),
        ("-0.00000001", Decimal("-0.00000001")),
        ("1e-8", Decimal("0.00000001")),
    ],
)
def test_to_decimal_reads_strings_with_surrounding_spaces_and_underscores(
    text: str, expected: Decimal
) -> None:
    assert to_decimal(text) == expected


@pytest.mark.parametrize("value", [True, False])
def test_to_decimal_rejects_booleans(value: bool) -> None:
    with pytest.raises(MoneyError):
        to_decimal(value)


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, object(), b"1"])
def test_to_decimal_rejects_non_numbers(value: object) -> None:
    with pytest.raises(MoneyError):
        to_decimal(value)


@pytest.mark.parametrize("text", ["", "   ", "_", "abc", "1.2.3", "1 000", "0x10"])
def test_to_decimal_rejects_text_that_is_not_a_number(text: str) -> None:
    with pytest.raises(MoneyError):
        to_decimal(text)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "sNaN",
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
    ],
)
def test_to_decimal_rejects_nan_and_infinity(value: object) -> None:
    with pytest.raises(MoneyError):
        to_decimal(value)


def test_money_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a number"):
        to_decimal(None)


# --- quantize_down -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        ("0.001234567", "0.00001", "0.00123"),
        ("0.00123", "0.00001", "0.00123"),  # already on the step: unchanged
        ("0.0012399999", "0.00001", "0.00123"),  # just below the next step: truncated
        ("0.00000999", "0.00001", "0"),
        ("0", "0.00001", "0"),
        ("10", "1", "10"),
        ("19.99", "10", "10"),
        ("20", "10", "20"),
        ("0.74", "0.25", "0.5"),
        ("0.75", "0.25", "0.75"),
    ],
)
def test_quantize_down_truncates_to_the_largest_multiple_not_above_the_value(
    value: str, step: str, expected: str
) -> None:
    result = quantize_down(Decimal(value), Decimal(step))

    assert result == Decimal(expected)
    assert result <= Decimal(value)


def test_quantize_down_result_is_normalized_without_exponent() -> None:
    result = quantize_down(Decimal("19.99"), Decimal("10"))

    assert str(result) == "10"


def test_quantize_down_never_exceeds_a_value_with_full_context_precision() -> None:
    value = Decimal("0.7499999999999999999999999999")

    result = quantize_down(value, Decimal("0.25"))

    assert result == Decimal("0.5")


@pytest.mark.parametrize("step", ["0", "-0.01"])
def test_quantize_down_rejects_a_non_positive_step(step: str) -> None:
    with pytest.raises(MoneyError, match="step must be positive"):
        quantize_down(Decimal("1"), Decimal(step))


_NUMBERS = st.builds(Decimal, st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{0,25})?(E[+-]?[0-9])?", fullmatch=True))
_STEPS = st.sampled_from(["1E-18", "0.00001", "0.01", "0.25", "0.5", "1", "10", "1E+3", "0.3"]).map(Decimal)


@given(_NUMBERS, _STEPS)
def test_quantizing_gives_the_multiple_of_the_step_as_exact_arithmetic_defines_it(
    value: Decimal, step: Decimal
) -> None:
    # The definition, worked with 200 digits: value / step to a whole number (down, or half to
    # even), times step; without trailing zeros, and whole numbers without an exponent.
    def written(number: Decimal) -> str:
        if number == 0:
            return "0"
        with localcontext(prec=200):
            normalized = number.normalize()
            exponent = normalized.as_tuple().exponent
            return str(
                normalized.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normalized
            )

    with localcontext(prec=200):
        down = (value / step).to_integral_value(rounding=ROUND_DOWN) * step
        nearest = (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step

    for result, expected in ((quantize_down(value, step), down), (quantize_nearest(value, step), nearest)):
        assert result == expected
        assert str(result) == written(expected)


# --- quantize_nearest ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        ("96388.123", "0.01", "96388.12"),
        ("96388.127", "0.01", "96388.13"),
        ("96388.12", "0.01", "96388.12"),
        ("0.125", "0.01", "0.12"),  # half to even: down to the even unit
        ("0.135", "0.01", "0.14"),  # half to even: up to the even unit
        ("0.1250000001", "0.01", "0.13"),  # just above half: up
        ("0.1249999999", "0.01", "0.12"),  # just below half: down
        ("2.5", "1", "2"),
        ("3.5", "1", "4"),
        ("0.004", "0.01", "0"),
        ("7.4", "0.5", "7.5"),
    ],
)
def test_quantize_nearest_rounds_to_the_nearest_step_half_to_even(
    value: str, step: str, expected: str
) -> None:
    assert quantize_nearest(Decimal(value), Decimal(step)) == Decimal(expected)


@pytest.mark.parametrize("step", ["0", "-1"])
def test_quantize_nearest_rejects_a_non_positive_step(step: str) -> None:
    with pytest.raises(MoneyError, match="step must be positive"):
        quantize_nearest(Decimal("1"), Decimal(step))


# --- normalize and fmt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+1"), "10"),
        (Decimal("1E+3"), "1000"),
        (Decimal("100.000"), "100"),
        (Decimal("1.500"), "1.5"),
        (Decimal("0.00000001"), "1E-8"),  # the Decimal repr; fmt renders it as plain text
        (Decimal("-0"), "0"),
        (Decimal("0E-8"), "0"),
    ],
)
def test_normalize_drops_trailing_zeros_and_keeps_whole_numbers_whole(value: Decimal, expected: str) -> None:
    result = normalize(value)

    assert str(result) == expected
    assert result == value


def test_normalize_returns_plain_zero_for_any_zero() -> None:
    assert normalize(Decimal("-0.000")) is ZERO


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+1"), "10"),
        (Decimal("5E+6"), "5000000"),
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("1E-12"), "0.000000000001"),
        (Decimal("96388.120"), "96388.12"),
        (Decimal("0.00123000"), "0.00123"),
        (Decimal("-2.50"), "-2.5"),
        (Decimal("0E+5"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("123456789012345678.9"), "123456789012345678.9"),
    ],
)
def test_fmt_never_produces_exponent_notation(value: Decimal, expected: str) -> None:
    result = fmt(value)

    assert result == expected
    assert result is not None
    assert "E" not in result.upper()


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.builds(Decimal, st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,30})?(E[+-]?[0-9]{1,3})?", fullmatch=True))
)
def test_fmt_is_the_normalized_value_written_out(value: Decimal) -> None:
    # fmt writes most values out directly; the text must be exactly that of the normalized value.
    normalized = normalize(value)
    expected = format(normalized, "f") if -100 <= normalized.adjusted() < 100 else str(normalized)

    assert fmt(value) == expected
    assert Decimal(str(fmt(value))) == value


def test_fmt_of_none_is_none() -> None:
    assert fmt(None) is None


def test_fmt_round_trips_through_to_decimal() -> None:
    value = Decimal("0.00012300")

    text = fmt(value)

    assert text is not None
    assert to_decimal(text) == value


def test_fmt_writes_whole_numbers_beyond_context_precision_in_full() -> None:
    assert fmt(Decimal("1E+30")) == "1" + "0" * 30


def test_normalize_keeps_every_digit_storage_holds() -> None:
    value = Decimal("12345678901234567890.123456789012345678")

    assert normalize(value) == value
    assert fmt(value) == "12345678901234567890.123456789012345678"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+100"), "1E+100"),
        (Decimal("1E+400000"), "1E+400000"),
        (Decimal("1E+999999"), "1E+999999"),
        (Decimal("1E-400000"), "1E-400000"),
        (Decimal("-2.5E+1000"), "-2.5E+1000"),
    ],
)
def test_fmt_of_a_number_no_storage_holds_is_short_and_never_fails(value: Decimal, expected: str) -> None:
    # Rows written before the bounds existed may hold such numbers; reading them must not fail.
    assert fmt(value) == expected


# --- storable ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["99999999999999999999.999999999999999999", "-99999999999999999999", "0.000000000000000001", "0"]
)
def test_storable_keeps_numbers_within_numeric_38_18(text: str) -> None:
    assert storable(Decimal(text)) == Decimal(text)


def test_storable_rounds_past_18_decimals_half_even() -> None:
    assert storable(Decimal("0.0000000000000000025")) == Decimal("0.000000000000000002")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1E+20", "too large"),
        ("-1E+20", "too large"),
        ("1E+400000", "too large"),
        ("1E-19", "too small"),
        ("Infinity", "not a finite number"),
        ("NaN", "not a finite number"),
    ],
)
def test_storable_refuses_what_storage_cannot_hold(text: str, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        storable(Decimal(text), "size")


def test_quantizing_a_number_too_large_to_round_is_a_money_error() -> None:
    with pytest.raises(MoneyError, match="too large to round"):
        quantize_down(Decimal("1E+400000"), Decimal("0.001"))
