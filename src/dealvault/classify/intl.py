"""Detectors for international columns: Latin-script names, street addresses, SSN, passports,
driving licences, VIN, "Name <e-mail>" contacts, and national-format phone numbers."""

from __future__ import annotations

import re
from functools import cache
from typing import Final

import numpy as np
import phonenumbers
import polars as pl

from dealvault.classify import patterns as p
from dealvault.classify import validators as v
from dealvault.classify.cells import BoolArray, Cells, as_mask, matches, scatter
from dealvault.classify.intl_words import (
    GIVEN_NAMES,
    NOT_PERSON_WORDS,
    STREET_COMPOUNDS,
    STREET_PREFIXES,
    STREET_SUFFIXES,
    SURNAMES,
)

# Regions whose national layouts are tried when a phone column carries no +CC; a tie goes to
# the earlier region (CN first; Germany's plan accepts most digit strings, so it comes last).
# US stands for the whole NANP (CA and the Caribbean).
PHONE_REGIONS: Final = ("CN", "US", "GB", "IN", "FR", "JP", "SG", "HK", "TW", "AU", "KR", "MY",
                        "IT", "ES", "NL", "DE")  # fmt: skip
REGION_PICK: Final = 40  # distinct values tried in every region
REGION_CHECK: Final = 400  # distinct values then checked in the region picked


# --- names -------------------------------------------------------------------------------


def _tokens_in(s: pl.Series, words: frozenset[str]) -> BoolArray:
    """True where any letter run of the value (lower case) is in ``words``."""
    toks = s.str.to_lowercase().str.replace_all(r"['’]", "").str.extract_all(r"\p{L}+")
    return as_mask(toks.list.eval(pl.element().is_in(list(words))).list.any())


def person_name_shape(c: Cells) -> BoolArray:
    """Capitalised name tokens, none of them a company, street or place word."""
    s = c.raw
    mask = matches(s, p.PERSON_NAME) & as_mask(c.nchars <= 60)
    if not mask.any():
        return mask
    return scatter(mask, ~_tokens_in(s.filter(pl.Series(mask)), NOT_PERSON_WORDS))


def person_name(c: Cells) -> BoolArray:
    """A name-shaped value with at least one common given name or surname."""
    if "person" not in c.memo:
        shaped = person_name_shape(c)
        if shaped.any():
            known = scatter(shaped, _tokens_in(c.raw.filter(pl.Series(shaped)), _NAMES))
        else:
            known = shaped
        c.memo["person"] = (shaped, known)
    return c.memo["person"][1]


_NAMES: Final = GIVEN_NAMES | SURNAMES


# --- addresses ---------------------------------------------------------------------------


@cache
def street_pattern() -> str:
    """Number + street word (US/UK), compound + number (DE/NL), number + prefix (FR/IT/ES)."""
    word = r"\p{L}[\p{L}'’.\-]*"
    return (
        rf"(?i)^\d+[a-z]?(?:[-/]\d+[a-z]?)?,?\s+(?:{word}\s+){{0,4}}(?:{STREET_SUFFIXES})\.?(?:$|[\s,])"
        rf"|(?i)\p{{L}}[\p{{L}}\-]*(?:{STREET_COMPOUNDS})\s*\d+"
        rf"|(?i)^\d+(?:\s?(?:bis|ter|[a-z]))?,?\s+(?:{STREET_PREFIXES})\s+\p{{L}}"
        rf"|(?i)^(?:{STREET_PREFIXES})\s+{word}(?:\s+{word}){{0,4}},?\s+\d+"
    )


STREET_GATE: Final = (
    r"(?i)^\d+[a-z]?(?:[-/]\d+[a-z]?)?\s?[a-z]*,?\s+\p{L}"
    rf"|(?i)^(?:{STREET_PREFIXES})\s|(?i)(?:{STREET_COMPOUNDS})\s*\d"
)  # every street address passes it

# UK postcode, US state + ZIP, or a 4-5 digit postcode before a capitalised town.
POSTCODE: Final = (
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"
    r"|\b\d{4,5}\s+\p{Lu}\p{Ll}+"
)


def street_address(c: Cells) -> BoolArray:
    """A street address: a street form, or a house number first and a postcode in it."""
    s = c.raw
    mask = as_mask(c.nchars >= 6) & matches(s, r"\d") & matches(s, r"\p{L}{2}")
    if not mask.any():
        return mask
    cand = s.filter(pl.Series(mask))
    ok = matches(cand, street_pattern()) | (
        matches(cand, r"^\d+[A-Za-z]?\s+\p{L}") & matches(cand, POSTCODE)
    )
    return scatter(mask, ok)


# --- identity numbers --------------------------------------------------------------------


def _ssn_rules(digits: pl.Series) -> BoolArray:
    """Area not 000, 666 or 900-999; group not 00; serial not 0000 (SSA rules)."""
    area = digits.str.slice(0, 3).cast(pl.Int32)
    group = digits.str.slice(3, 2).cast(pl.Int32)
    serial = digits.str.slice(5, 4).cast(pl.Int32)
    return as_mask((area > 0) & (area != 666) & (area < 900) & (group > 0) & (serial > 0))


def us_ssn(c: Cells) -> BoolArray:
    """US Social Security number written ddd-dd-dddd (or with spaces), SSA rules."""
    mask = matches(c.raw, p.SSN_GROUPED)
    if not mask.any():
        return mask
    return scatter(mask, _ssn_rules(c.compact.filter(pl.Series(mask))))


def us_ssn_bare(c: Cells) -> BoolArray:
    """Nine digits under SSA rules (used only when the header names an SSN)."""
    mask = matches(c.raw, p.SSN_BARE)
    if not mask.any():
        return mask
    return scatter(mask, _ssn_rules(c.raw.filter(pl.Series(mask))))


def passport(c: Cells) -> BoolArray:
    """Passport number formats of several countries (needs a header: the shapes are common)."""
    return matches(c.upper, p.PASSPORT_INTL) & matches(c.upper, r"\d")


def driving_licence(c: Cells) -> BoolArray:
    """Driving licence formats (UK DVLA, US states, EU cards); needs a header."""
    u = c.upper
    return matches(u, p.DRIVING_UK) | (matches(u, p.DRIVING_LICENCE) & matches(u, p.FOUR_DIGITS))


# ISO 3779 check digit: letter values and position weights.
_VIN_VALUE: Final = np.full(256, -1, dtype=np.int64)
_VIN_VALUE[ord("0") : ord("9") + 1] = np.arange(10)
for _letters, _vals in (("ABCDEFGH", range(1, 9)), ("JKLMN", range(1, 6)), ("P", [7]),
                        ("R", [9]), ("STUVWXYZ", range(2, 10))):  # fmt: skip
    for _ch, _val in zip(_letters, _vals, strict=True):
        _VIN_VALUE[ord(_ch)] = _val
_VIN_WEIGHTS: Final = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2], np.int64)


def vin_check(values: pl.Series) -> BoolArray:
    """The ninth character is the ISO 3779 / North American check digit (X for 10)."""
    m = v.byte_matrix(values, 17)
    vals = _VIN_VALUE[m]
    total = (vals * _VIN_WEIGHTS).sum(axis=1) % 11
    check = m[:, 8].astype(np.int64)
    expected = np.where(total == 10, ord("X"), total + ord("0"))
    ok: BoolArray = (vals.min(axis=1) >= 0) & (check == expected)
    return ok


def vin(c: Cells) -> BoolArray:
    """Vehicle identification number: 17 characters with a letter, a digit and the check digit."""
    u = c.upper
    mask = matches(u, p.VIN) & matches(u, r"[A-Z]") & matches(u, r"\d")
    if not mask.any():
        return mask
    return scatter(mask, vin_check(u.filter(pl.Series(mask))))


def vin_shape(c: Cells) -> BoolArray:
    """17 VIN characters without the check digit (European VINs need not carry one)."""
    u = c.upper
    return matches(u, p.VIN) & matches(u, r"[A-Z]") & matches(u, r"\d")


# --- contacts ----------------------------------------------------------------------------


def contact_email(c: Cells) -> BoolArray:
    """An e-mail address with more around it: ``Name <a@b.example>``, ``a@b.example (Name)``."""
    s = c.raw
    return matches(s, p.EMAIL_INSIDE) & ~matches(s, p.EMAIL) & as_mask(c.nchars <= 320)


# How Chinese numbers are written without +86: the trunk 0, a mobile's 1, or a 400 / 800
# service number (other digits first would let US numbers pass as Chinese landlines).
_CN_STARTS: Final = re.compile(r"^[(\s]*(?:[01]|[48]00)")


def _valid_in(values: list[str], region: str | None) -> list[bool]:
    out = []
    for value in values:
        if region == "CN" and not _CN_STARTS.match(value):
            out.append(False)
            continue
        try:
            num = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            out.append(False)
            continue
        out.append(bool(phonenumbers.is_valid_number(num)))
    return out


_DIGIT_RUNS: Final = re.compile(r"\d+")
_SEPARATORS: Final = re.compile(r"(?<=\d)\D+(?=\d)")


def _as_written(value: str, region: str) -> tuple[int, int, int]:
    """How closely the value is written as libphonenumber writes the number nationally in
    ``region``: the same digit groups (trunk zeros aside), the same separators between them,
    the trunk prefix written or not alike (1 or 0 each). ``020 7946 0958`` is how the UK
    writes it, not India; ``010-2000-4828`` how Korea does, not Italy (``010 2000 4828``)."""
    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return 0, 0, 0
    usual = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups, usual_groups = _DIGIT_RUNS.findall(value), _DIGIT_RUNS.findall(usual)
    if len(groups) < 2 or len(groups) != len(usual_groups):
        return 0, 0, 0
    if [groups[0].lstrip("0"), *groups[1:]] != [usual_groups[0].lstrip("0"), *usual_groups[1:]]:
        return 0, 0, 0

    def seps(text: str) -> list[str]:
        return [" " if not x.strip() else x.strip() for x in _SEPARATORS.findall(text)]

    same_seps = seps(value) == seps(usual)
    same_trunk = groups[0].startswith("0") == usual_groups[0].startswith("0")
    return 1, int(same_seps), int(same_trunk)


def pick_region(values: list[str]) -> tuple[str, int]:
    """The region most of ``values`` (without +CC) are valid in, then written as it writes
    them (``_as_written``); CN, and otherwise the first of equals, wins a tie. Also how many
    other regions score the same (0: the values tell the region; more: a guess by list
    order)."""
    valid = {r: _valid_in(values, r) for r in PHONE_REGIONS}
    hits = {r: sum(ok) for r, ok in valid.items()}
    best = max(hits.values())
    tied = [r for r in PHONE_REGIONS if hits[r] == best]
    if len(tied) > 1 and tied[0] != "CN":
        score: dict[str, tuple[int, ...]] = {}
        for r in tied:
            marks = [_as_written(v, r) for v, ok in zip(values, valid[r], strict=True) if ok]
            score[r] = tuple(sum(m[i] for m in marks) for i in range(3))
        top = max(score.values())
        tied = [r for r in tied if score[r] == top]
    return tied[0], 0 if tied[0] == "CN" else len(tied) - 1


def national_phones(values: pl.Series) -> tuple[float, int, float, int]:
    """(share of valid numbers, calling code of the region inferred, share without +CC, how
    many other regions fit as well).

    Numbers with +CC / 00 are read as they are; the others in the region where most of a few
    distinct values are valid, then written as they are (``pick_region``); then up to
    ``REGION_CHECK`` distinct values are checked there. The share is over the distinct values
    checked, weighted by their counts.
    """
    counts = values.value_counts(sort=True).head(REGION_CHECK)
    uniq = counts.get_column(values.name).to_list()
    weight = np.asarray(counts.get_column("count").to_list(), dtype=np.float64)
    plus = np.array([u.lstrip("(").startswith(("+", "00")) for u in uniq], dtype=np.bool_)
    national = [u for u, pl_ in zip(uniq, plus, strict=True) if not pl_]
    ok = np.zeros(len(uniq), dtype=np.bool_)
    if plus.any():
        ok[plus] = _valid_in([u for u, pl_ in zip(uniq, plus, strict=True) if pl_], None)
    region, code, tied = "CN", 86, 0
    if national:
        region, tied = pick_region(national[:REGION_PICK])
        code = phonenumbers.country_code_for_region(region)
        ok[~plus] = _valid_in(national, region)
    total = float(weight.sum()) or 1.0
    share = float((weight * ok).sum()) / total
    return share, code, float((weight * ~plus).sum()) / total, tied
