"""Mainland county-level region codes and names from python-stdnum's ``cn/loc.dat``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

# Birth years representable in the validity matrix.
YEAR_MIN: Final = 1900
YEAR_MAX: Final = 2100

# Hong Kong, Macao and Taiwan use other identity documents.
_EXCLUDED_PROVINCES: Final = frozenset({"71", "81", "82"})
_PLACEHOLDER_NAMES: Final = frozenset({"市辖区", "县", "郊区", "矿区"})

# Resident population in millions (7th national census, 2020), used as sampling weights.
PROVINCE_POPULATION: Final[dict[str, float]] = {
    "11": 21.89, "12": 13.87, "13": 74.61, "14": 34.92, "15": 24.05, "21": 42.59,
    "22": 24.07, "23": 31.85, "31": 24.87, "32": 84.75, "33": 64.57, "34": 61.03,
    "35": 41.54, "36": 45.19, "37": 101.53, "41": 99.37, "42": 57.75, "43": 66.44,
    "44": 126.01, "45": 50.13, "46": 10.08, "50": 32.05, "51": 83.67, "52": 38.56,
    "53": 47.21, "54": 3.65, "61": 39.53, "62": 25.02, "63": 5.92, "64": 7.20,
    "65": 25.85,
}  # fmt: skip

_LINE = re.compile(r'^\s*(\d+)\s+(province|county)="(.*)"\s*$')
_SEGMENT = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


@dataclass(frozen=True, slots=True)
class _Entry:
    """One loc.dat entry: its name history as (start, end, name) with open ends as None."""

    segments: tuple[tuple[int | None, int | None, str], ...]

    @property
    def current_name(self) -> str | None:
        _start, end, name = self.segments[-1]
        return name if end is None else None

    def valid_years(self) -> npt.NDArray[np.bool_]:
        """Birth years for which ``stdnum.cn.ric`` accepts this code (any segment covers it)."""
        years = np.arange(YEAR_MIN, YEAR_MAX + 1)
        ok = np.zeros(years.shape, dtype=np.bool_)
        for start, end, _ in self.segments:
            lo = YEAR_MIN if start is None else start
            hi = YEAR_MAX if end is None else end
            ok |= (years >= lo) & (years <= hi)
        return ok


def _parse_value(value: str) -> _Entry:
    segments: list[tuple[int | None, int | None, str]] = []
    for part in value.split(","):
        match = _SEGMENT.match(part)
        if match is None:
            segments.append((None, None, part))
        else:
            start, end, name = match.groups()
            segments.append((int(start) if start else None, int(end) if end else None, name))
    return _Entry(tuple(segments))


def read_loc_dat() -> tuple[dict[str, str], dict[str, _Entry]]:
    """Parse loc.dat into province names (2-digit) and entries keyed by 6-digit code."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    provinces: dict[str, str] = {}
    entries: dict[str, _Entry] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        code, kind, value = match.groups()
        if kind == "province":
            province = code
            provinces[code] = value
        else:
            entries[province + code] = _parse_value(value)
    return provinces, entries


def _county_weight(name: str) -> float:
    if name.endswith("区"):
        return 2.0
    if name.endswith("市"):
        return 1.5
    if name.endswith("旗"):
        return 0.6
    return 1.0


@dataclass(frozen=True, slots=True)
class RegionTable:
    """Current county-level regions usable as ID-number prefixes and home addresses."""

    codes: npt.NDArray[np.int64]  # 6-digit codes
    province: pl.Series  # province names
    city: pl.Series  # prefecture names ("" for municipalities / directly administered)
    county: pl.Series  # current county names
    address_prefix: pl.Series  # province + city + county
    valid: npt.NDArray[np.bool_]  # (n_regions, YEAR_MAX - YEAR_MIN + 1)
    cdf: npt.NDArray[np.float64]  # sampling CDF (population weighted)
    stable: npt.NDArray[np.int64]  # indices valid for every birth year (fallback pool)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """Population-weighted region indices."""
        return np.searchsorted(self.cdf, rng.random(n), side="right").astype(np.int64)

    def sample_for_years(
        self, rng: np.random.Generator, birth_years: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Region indices whose code was assigned in each person's birth year."""
        n = birth_years.shape[0]
        col = np.clip(birth_years, YEAR_MIN, YEAR_MAX) - YEAR_MIN
        idx = self.sample(rng, n)
        bad = ~self.valid[idx, col]
        for _ in range(8):
            if not bad.any():
                break
            idx[bad] = self.sample(rng, int(bad.sum()))
            bad = ~self.valid[idx, col]
        if bad.any():
            idx[bad] = self.stable[rng.integers(0, self.stable.shape[0], int(bad.sum()))]
        return idx


def _city_name(province: str, prefecture: _Entry | None) -> str:
    if prefecture is None:
        return ""
    name = prefecture.current_name
    if name is None or name in _PLACEHOLDER_NAMES or "直辖" in name or name == province:
        return ""
    return name


def _is_county(code: str, entry: _Entry) -> bool:
    name = entry.current_name
    return (
        name is not None
        and not code.endswith("00")
        and name not in _PLACEHOLDER_NAMES
        and "直辖" not in name
    )


@cache
def region_table() -> RegionTable:
    """Build (once) the table of current county-level regions from loc.dat."""
    provinces, entries = read_loc_dat()
    rows: list[tuple[str, str, str, str, _Entry]] = []  # code, province, city, county, entry
    counties_by_prefecture: dict[str, int] = {}
    for code, entry in entries.items():
        if code[:2] in _EXCLUDED_PROVINCES or code[:2] not in provinces:
            continue
        if _is_county(code, entry):
            counties_by_prefecture[code[:4]] = counties_by_prefecture.get(code[:4], 0) + 1
    for code, entry in sorted(entries.items()):
        pcode = code[:2]
        if pcode in _EXCLUDED_PROVINCES or pcode not in provinces:
            continue
        province = provinces[pcode]
        name = entry.current_name
        if _is_county(code, entry):
            assert name is not None
            city = _city_name(province, entries.get(code[:4] + "00"))
            rows.append((code, province, city, name, entry))
        elif (
            code.endswith("00")
            and not code.endswith("0000")
            and name is not None
            and name.endswith("市")
            and "直辖" not in name
            and counties_by_prefecture.get(code[:4], 0) == 0
        ):
            # Prefecture-level city without districts (e.g. 东莞市, 中山市, 儋州市).
            rows.append((code, province, "", name, entry))
    pop_counts: dict[str, int] = {}
    for code, *_ in rows:
        pop_counts[code[:2]] = pop_counts.get(code[:2], 0) + 1
    weights = np.array(
        [
            PROVINCE_POPULATION[code[:2]] / pop_counts[code[:2]] * _county_weight(county)
            for code, _, _, county, _ in rows
        ]
    )
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    valid = np.stack([entry.valid_years() for *_, entry in rows])
    stable = np.flatnonzero(valid.all(axis=1)).astype(np.int64)
    return RegionTable(
        codes=np.array([int(r[0]) for r in rows], dtype=np.int64),
        province=pl.Series("province", [r[1] for r in rows], dtype=pl.String),
        city=pl.Series("city", [r[2] for r in rows], dtype=pl.String),
        county=pl.Series("county", [r[3] for r in rows], dtype=pl.String),
        address_prefix=pl.Series("prefix", [r[1] + r[2] + r[3] for r in rows], dtype=pl.String),
        valid=valid,
        cdf=cdf,
        stable=stable,
    )
