"""Check digits and number ranges for CN resident IDs, bank cards and mobile numbers."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

# ISO 7064 MOD 11-2 weights for the first 17 digits of a resident ID (GB 11643).
RIC_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK_CHARS: Final = "10X98765432"


def ric_check_digit(first17: str) -> str:
    """Check character (0-9 or X) for the first 17 digits of a CN resident ID."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, RIC_WEIGHTS, strict=True))
    return RIC_CHECK_CHARS[total % 11]


def ric_check_index(first17: IntArray) -> IntArray:
    """Vectorised: index into ``RIC_CHECK_CHARS`` for 17-digit integers."""
    total = np.zeros_like(first17)
    rest = first17.copy()
    for weight in reversed(RIC_WEIGHTS):
        total += (rest % 10) * weight
        rest //= 10
    return total % 11


def luhn_check_digit(payload: str) -> str:
    """Luhn (ISO/IEC 7812) check digit to append to ``payload``."""
    if not payload.isdigit():
        raise ValueError("expected digits")
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_check_index(payload: IntArray, length: int = 18) -> IntArray:
    """Vectorised Luhn check digit for non-negative integers of at most ``length`` digits."""
    total = np.zeros_like(payload)
    rest = payload.copy()
    for i in range(length):
        d = rest % 10
        rest //= 10
        if i % 2 == 0:
            d = d * 2
            d -= np.where(d > 9, 9, 0)
        total += d
    return (10 - total % 10) % 10


# Mainland mobile prefixes in current use. 149 (data-only cards) and 194 (unassigned) are
# left out: libphonenumber does not accept them as valid mobile numbers.
_PREFIX_GROUPS: Final[tuple[tuple[tuple[int, ...], float], ...]] = (
    (tuple(range(130, 140)), 1.5),
    ((145, 147), 0.2),
    ((150, 151, 152, 153, 155, 156, 157, 158, 159), 1.2),
    ((162, 165, 166, 167), 0.3),
    ((170, 171, 172, 173, 175, 176, 177, 178), 0.5),
    (tuple(range(180, 190)), 1.3),
    ((190, 191, 192, 193, 195, 196, 197, 198, 199), 0.7),
)
MOBILE_PREFIXES: Final[tuple[int, ...]] = tuple(p for ps, _ in _PREFIX_GROUPS for p in ps)
MOBILE_PREFIX_WEIGHTS: Final[tuple[float, ...]] = tuple(w for ps, w in _PREFIX_GROUPS for _ in ps)


def is_mainland_mobile(number: str) -> bool:
    """True for an 11-digit mainland mobile number (separators and +86 allowed) on our list."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return len(digits) == 11 and int(digits[:3]) in MOBILE_PREFIXES


# Card BINs: (bin, card length, weight). Mostly UnionPay (62...) debit cards of the large
# banks; a few Visa / Mastercard co-branded credit cards.
BANK_BINS: Final[tuple[tuple[int, int, float], ...]] = (
    (622202, 19, 8.0),  # ICBC debit
    (621226, 19, 4.0),  # ICBC debit
    (622848, 19, 7.0),  # ABC debit
    (621700, 19, 7.0),  # CCB debit
    (621661, 19, 4.0),  # BOC debit
    (621785, 19, 2.0),  # BOC debit
    (622262, 19, 3.0),  # BOCOM debit
    (621799, 19, 3.0),  # PSBC debit
    (622588, 16, 4.0),  # CMB debit
    (621483, 16, 2.0),  # CMB debit
    (622908, 18, 1.5),  # CIB debit
    (621771, 19, 1.0),  # CITIC debit
    (622155, 16, 1.0),  # Ping An debit
    (625807, 16, 1.0),  # UnionPay credit
    (628288, 16, 1.0),  # UnionPay credit
    (622575, 16, 0.8),  # CMB credit
    (436742, 16, 0.6),  # CCB Visa credit
    (427020, 16, 0.4),  # ICBC Visa credit
    (524047, 16, 0.4),  # Mastercard credit
)


class IntSet:
    """Append-only set of int64 values as a few sorted arrays (8 bytes per value).

    Arrays are merged when a new one is at least as large as the last (log-structured),
    so inserting N values costs O(N log N) and a lookup O(log^2 N).
    """

    def __init__(self) -> None:
        self._levels: list[IntArray] = []

    def __len__(self) -> int:
        return sum(int(level.shape[0]) for level in self._levels)

    def contains(self, values: IntArray) -> npt.NDArray[np.bool_]:
        order = np.argsort(values)
        needles = values[order]  # sorted needles make the binary searches cache friendly
        found_sorted = np.zeros(values.shape, dtype=np.bool_)
        for level in self._levels:
            idx = np.minimum(np.searchsorted(level, needles), level.shape[0] - 1)
            found_sorted |= level[idx] == needles
        found = np.empty_like(found_sorted)
        found[order] = found_sorted
        return found

    def add(self, values: IntArray) -> None:
        """Add values that are not in the set yet (duplicates within ``values`` are fine)."""
        new = np.sort(values)
        if new.shape[0] > 1:
            new = new[np.r_[True, new[1:] != new[:-1]]]
        while self._levels and self._levels[-1].shape[0] <= new.shape[0]:
            # Timsort finds the two sorted runs and merges them in linear time.
            new = np.sort(np.concatenate((self._levels.pop(), new)), kind="stable")
        if new.shape[0]:
            self._levels.append(new)


def first_duplicates(values: IntArray) -> npt.NDArray[np.bool_]:
    """True for every occurrence of a value after its first one."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    dup_sorted = np.zeros(values.shape, dtype=np.bool_)
    dup_sorted[1:] = ordered[1:] == ordered[:-1]
    dup = np.empty_like(dup_sorted)
    dup[order] = dup_sorted
    return dup
