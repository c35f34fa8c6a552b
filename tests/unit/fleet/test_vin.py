from __future__ import annotations

import pytest

from fleet.vin import check_digit, is_vin, with_check_digit


@pytest.mark.parametrize(
    ("vin", "digit"),
    [("1HGCM82633A004352", "3"), ("1M8GDM9AXKP042788", "X"), ("11111111111111111", "1")],
)
def test_check_digit_matches_published_examples(vin, digit):
    assert check_digit(vin) == digit


def test_with_check_digit_repairs_position_nine():
    assert with_check_digit("1HGCM82603A004352") == "1HGCM82633A004352"


@pytest.mark.parametrize(
    "bad", ["", "1HGCM82633A00435", "1HGCM82633A0043521", "1HGCM82633A00435I", "1hgcm82633a004352"]
)
def test_is_vin_refuses_wrong_length_letters_and_case(bad):
    assert not is_vin(bad)
    with pytest.raises(ValueError):
        check_digit(bad)
