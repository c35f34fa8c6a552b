"""Vehicle Identification Numbers (ISO 3779).

A VIN is 17 characters of digits and capital letters without I, O and Q. The
ninth character is a check digit in North America (49 CFR 565) and optional
elsewhere, so the contract checks the format only; `check_digit` lets the
simulator mint VINs that pass the stricter North American rule too.
"""

from __future__ import annotations

import re

VIN_PATTERN = r"^[A-HJ-NPR-Z0-9]{17}$"
_VIN_RE = re.compile(VIN_PATTERN)

# Transliteration and position weights from 49 CFR 565.15.
_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def is_vin(text: str) -> bool:
    """Whether ``text`` has the ISO 3779 shape of a VIN."""
    return bool(_VIN_RE.fullmatch(text))  # `match` with `$` would accept a trailing newline


def check_digit(vin: str) -> str:
    """The check digit (``0``-``9`` or ``X``) that position 9 of ``vin`` should hold."""
    if not is_vin(vin):
        raise ValueError(f"not a VIN: {vin!r}")
    total = sum(_VALUES[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def with_check_digit(vin: str) -> str:
    """``vin`` with position 9 replaced by its correct check digit."""
    return vin[:8] + check_digit(vin) + vin[9:]
