"""Phone numbers written in a region's national layout, to E.164 with Polars regexes.

A column whose numbers carry no +CC is read in its region (``phone_region``: the one the
classifier inferred, or the one the user states). libphonenumber decides what a number is,
one value at a time: about 30 µs a value, too slow for a whole column. ``read_national``
settles the common case with libphonenumber's *own* metadata for the region, compiled into
Polars regexes (1M values in about half a second):

- a value of ASCII digits, spaces, ``-``, ``.`` and brackets only;
- whose digits start neither with the region's international prefix (``011``, ``00``) nor
  with its calling code (``1``, ``44``): libphonenumber may read those either way;
- the national prefix (``0``, ``1``) stripped where the region's parsing pattern matches
  (where it would rewrite the number, Japan's and Brazil's carrier forms, it is left alone);
- is accepted when what remains is valid as libphonenumber sees it: a length and pattern of
  the region's general description and of one number type (fixed line, mobile, toll free
  …), not a local-only length, and no earlier region of the calling code (the NANP regions
  listed before Canada, the UK before its crown dependencies) claiming it.

The values it leaves go to libphonenumber (``validators.phone_slow`` with the same region).
It never accepts what libphonenumber refuses and gives the same E.164 text
(``tests/ingest/test_international.py`` compares the two on generated numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

import phonenumbers
import polars as pl
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

#: What a value may hold to take the fast path: the layout characters libphonenumber drops.
PLAIN: Final = r"^[0-9 \-.()（）]{1,64}$"
_TYPES: Final = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number",
                 "pager", "uan", "voicemail", "fixed_line", "mobile")  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Desc:
    pattern: str  # anchored
    lengths: tuple[int, ...]  # empty: any length


@dataclass(frozen=True, slots=True)
class _Region:
    general: _Desc
    local_only: tuple[int, ...]
    types: tuple[_Desc, ...]
    leading: str | None  # anchored leading-digits pattern (regions sharing a calling code)


@dataclass(frozen=True, slots=True)
class NationalLayout:
    """What the fast path needs of a region, from libphonenumber's metadata."""

    region: str
    code: str  # calling code, digits
    idd: str  # anchored international prefix
    prefix: str | None  # anchored national prefix for parsing
    #: with a rewriting rule, the prefix group whose match makes libphonenumber rewrite the
    #: number (0: any match of the prefix); None without a rule
    rewrites: int | None
    claimants: tuple[_Region, ...]  # regions of the calling code up to and with this one


def _desc(d: PhoneNumberDesc | None) -> _Desc | None:
    if d is None or not d.national_number_pattern:
        return None
    lengths = tuple(n for n in d.possible_length if n > 0)
    if d.possible_length and not lengths:
        return None  # no numbers of this type
    return _Desc(f"^(?:{d.national_number_pattern})$", lengths)


def _region(md: PhoneMetadata) -> _Region:
    general = _desc(md.general_desc)
    assert general is not None and md.general_desc is not None
    types = []
    for name in _TYPES:
        if name == "mobile" and md.same_mobile_and_fixed_line_pattern:
            continue  # libphonenumber does not look at it then
        d = _desc(getattr(md, name))
        if d is not None:
            types.append(d)
    leading = f"^(?:{md.leading_digits})" if md.leading_digits else None
    local = tuple(md.general_desc.possible_length_local_only or ())
    return _Region(general, local, tuple(types), leading)


@cache
def layout(*, region: str) -> NationalLayout:
    """The fast path's view of ``region`` (an upper-case region phonenumbers supports)."""
    md = PhoneMetadata.metadata_for_region(region)
    assert md is not None and md.country_code is not None, region
    code = md.country_code
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    upto = regions[: regions.index(region) + 1]
    claimants = []
    for r in upto:
        other = PhoneMetadata.metadata_for_region(r)
        if other is not None:
            claimants.append(_region(other))
    prefix = md.national_prefix_for_parsing
    rewrites = None
    if prefix and md.national_prefix_transform_rule:
        # libphonenumber rewrites the number when the pattern's last group takes part
        rewrites = re.compile(prefix).groups
    return NationalLayout(
        region=region,
        code=str(code),
        idd=f"^(?:{md.international_prefix})" if md.international_prefix else "^$",
        prefix=f"^(?:{prefix})" if prefix else None,
        rewrites=rewrites,
        claimants=tuple(claimants),
    )


def _matches(d: _Desc) -> pl.Expr:
    ok = pl.col("nsn").str.contains(d.pattern)
    return ok & pl.col("len").is_in(list(d.lengths)) if d.lengths else ok


def _valid_in(r: _Region) -> pl.Expr:
    """libphonenumber's ``_number_type_helper(nsn) != UNKNOWN`` for one region."""
    if not r.types:
        return pl.lit(False)
    return _matches(r.general) & pl.any_horizontal([_matches(d) for d in r.types])


def _claims(r: _Region) -> pl.Expr:
    """The region ``region_code_for_number`` gives a number of this calling code to."""
    return pl.col("nsn").str.contains(r.leading) if r.leading else _valid_in(r)


def read_national(*, values: pl.Series, region: str) -> pl.Series:
    """E.164 of the values the fast path settles (see the module text), null for the others.
    Intermediate columns are materialised step by step: Polars would not share them."""
    lay = layout(region=region)
    v = pl.col("v")
    frame = pl.DataFrame({"v": values.cast(pl.String)}).with_columns(
        plain=v.str.contains(PLAIN).fill_null(False),
        digits=v.str.replace_all(r"[^0-9]", ""),
    )
    digits = pl.col("digits")
    doubtful = digits.str.contains(lay.idd) | digits.str.starts_with(lay.code)
    if lay.prefix is not None and lay.rewrites == 0:
        doubtful = doubtful | digits.str.contains(lay.prefix)
    elif lay.prefix is not None and lay.rewrites is not None:
        doubtful = doubtful | digits.str.extract(lay.prefix, lay.rewrites).is_not_null()
    frame = frame.with_columns(
        nsn=digits.str.replace(lay.prefix, "") if lay.prefix is not None else digits,
        plain=pl.col("plain") & (digits.str.len_bytes() > 0) & ~doubtful,
    ).with_columns(len=pl.col("nsn").str.len_bytes())
    *earlier, own = lay.claimants
    ok = pl.col("plain") & _valid_in(own) & ~pl.col("len").is_in(list(own.local_only))
    if own.leading is not None:
        ok = ok & pl.col("nsn").str.contains(own.leading)
    for r in earlier:
        ok = ok & ~_claims(r)
    out = frame.select(pl.when(ok.fill_null(False)).then(pl.lit(f"+{lay.code}") + pl.col("nsn")))
    return out.to_series().alias(values.name)
