from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidAmountError
from ledger.money import MAX_MINOR_UNITS, from_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [("0.1", 8, 10_000_000), ("1", 2, 100), ("1.000000000", 8, 100_000_000), (Decimal("12.34"), 2, 1234), (7, 0, 7)],
)
def test_to_minor_units_is_exact(value, scale, expected):
    assert to_minor_units(value, scale=scale) == expected


@pytest.mark.parametrize(
    "value",
    ["0", "-1", "0.001", "NaN", "nan", "Infinity", "-Infinity", "1e400", "1e2", "", " ", "abc", "1.2.3", "0x10",
     Decimal("NaN"), Decimal("Infinity"), Decimal("1E+400"), 1.5, True, None, "92233720368547758.08",
     "1" + "0" * 30, "١٢"],
)
def test_to_minor_units_refuses_bad_amounts(value):
    with pytest.raises(InvalidAmountError):
        to_minor_units(value, scale=2)


def test_largest_representable_amount_is_accepted_and_one_more_is_not():
    assert to_minor_units("92233720368547758.07", scale=2) == MAX_MINOR_UNITS
    with pytest.raises(InvalidAmountError):
        to_minor_units("92233720368547758.08", scale=2)


@given(minor=st.integers(min_value=1, max_value=MAX_MINOR_UNITS), scale=st.integers(min_value=0, max_value=18))
def test_round_trip_through_string_is_exact(minor, scale):
    assert to_minor_units(from_minor_units(minor, scale=scale), scale=scale) == minor


@given(
    minor=st.integers(min_value=1, max_value=10**15),
    scale=st.integers(min_value=0, max_value=12),
    extra=st.integers(min_value=1, max_value=9),
)
def test_more_places_than_the_scale_is_refused_not_rounded(minor, scale, extra):
    text = from_minor_units(minor, scale=scale) + ("" if scale else ".") + str(extra)
    with pytest.raises(InvalidAmountError):
        to_minor_units(text, scale=scale)


def test_rendering_keeps_the_scale():
    assert from_minor_units(10_000_000, scale=8) == "0.10000000"
    assert from_minor_units(5, scale=2) == "0.05"
    assert from_minor_units(-5, scale=2) == "-0.05"
    assert from_minor_units(42, scale=0) == "42"


@pytest.mark.parametrize(
    "value",
    [Decimal("0." + "9" * 70), Decimal("1." + "0" * 70 + "1"), Decimal("1E-1000000"), Decimal("12345.6789"),
     "0." + "9" * 70, " 1.00 ", "+1", "1.", ".5", "1e2", "-1"],
)
def test_any_number_of_digits_beyond_the_scale_is_refused_never_rounded(value):
    with pytest.raises(InvalidAmountError):
        to_minor_units(value, scale=2)


@given(
    minor=st.integers(min_value=1, max_value=10**15),
    scale=st.integers(min_value=0, max_value=12),
    extra_digits=st.integers(min_value=1, max_value=120),
)
def test_a_long_tail_of_nines_is_refused_whatever_its_length(minor, scale, extra_digits):
    text = from_minor_units(minor, scale=scale) + ("" if scale else ".") + "9" * extra_digits
    with pytest.raises(InvalidAmountError):
        to_minor_units(Decimal(text), scale=scale)


def test_trailing_zeros_of_any_length_are_exact():
    assert to_minor_units(Decimal("1." + "0" * 100), scale=2) == 100
    assert to_minor_units(Decimal("1.5E+2"), scale=2) == 15_000
