"""GB/T 2260 regions for generalisation: addresses and ID numbers to county codes, names, tree."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import product
from typing import Final

import numpy as np
import polars as pl

from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.errors import Invalid
from dealvault.synth.regions import read_loc_dat

MUNICIPALITIES: Final = frozenset({"11", "12", "31", "50"})
LEVELS: Final = ("district", "city", "province")
# Residence permits of Taiwan residents carry 830000 (not a GB/T 2260 code) as their first digits.
CODE_ALIASES: Final = {"830000": "710000"}
# Entries that only group counties (市辖区, 县, 省直辖县级行政单位, 林区, ...), not places.
_GROUPING: Final = frozenset({"市辖区", "县", "市", "林区", "市区"})
# County names too generic to identify a place when an address starts with them alone.
_GENERIC: Final = frozenset({"城区", "郊区", "矿区", "新区"})
# After a bare short province name these start a street or building, not a region (四川路).
_STREET: Final = (
    "路", "街", "道", "巷", "里", "大道", "大街", "东路", "西路", "南路", "北路", "中路", "广场",
)  # fmt: skip
_PROVINCE_SUFFIX: Final = re.compile(
    r"(?:特别行政区|特別行政區|维吾尔自治区|壮族自治区|回族自治区|自治区|省|市)$"
)
_ETHNIC: Final = "回|哈萨克|柯尔克孜|彝|蒙古|白|朝鲜|傣|景颇|傈僳|土家|苗|壮|藏|羌|哈尼|黎|侗|布依"
_AUTONOMOUS: Final = re.compile(rf"^(.{{2,}}?)(?:(?:{_ETHNIC})族?)+自治州$")
_ID_FORMAT: Final = r"^(?:\d{17}[\dX]|\d{15})$"

Form = tuple[str, int]  # (text, 0 for a name in use, 1 for a former one)


def _grouping(name: str) -> bool:
    return name in _GROUPING or "直辖" in name


@dataclass(frozen=True)
class _Regions:
    """Region tables, built once from loc.dat."""

    leaves: pl.DataFrame  # code, district, city, province labels, "*" (the hierarchy table)
    names: pl.DataFrame  # code (every known code), district, city, province names, leaf code
    keys: pl.DataFrame  # key (an address start), code (a leaf; null when ambiguous), length
    key_lengths: tuple[int, ...]  # distinct key lengths, longest first


@dataclass(frozen=True)
class _Loc:
    """loc.dat seen as names per code: ``names[code]`` oldest first, ``current`` codes in use."""

    names: dict[str, list[str]]
    current: dict[str, str]

    def name(self, code: str) -> str:
        """Current name, else the last one."""
        return self.current.get(code) or self.names[code][-1]

    def forms(self, code: str) -> list[Form]:
        """Every name the code had, current first (priority 0) then former ones (priority 1)."""
        now = self.current.get(code)
        return [(n, 0 if n == now else 1) for n in self.names.get(code, []) if not _grouping(n)]


def _load() -> _Loc:
    provinces, entries = read_loc_dat()
    names: dict[str, list[str]] = {}
    current: dict[str, str] = {}
    for code, entry in entries.items():
        names[code] = list(dict.fromkeys(seg[2] for seg in entry.segments))
        if entry.current_name is not None:
            current[code] = entry.current_name
    for prefix, name in provinces.items():
        code = prefix + "0000"
        names.setdefault(code, [])
        if name not in names[code]:
            names[code].insert(0, name)  # e.g. the traditional 香港特別行政區
        current.setdefault(code, name)
    return _Loc(names=names, current=current)


def _leaf_labels(loc: _Loc) -> dict[str, tuple[str, str, str]]:
    """Current codes -> (district, city, province) labels. District labels carry their city
    (杭州市西湖区) because bare district names repeat across cities and a tree needs one parent."""
    leaf: dict[str, tuple[str, str, str]] = {}
    for code in sorted(loc.current):
        pcode = code[:2] + "0000"
        if pcode not in loc.current or _grouping(loc.current[code]):
            continue
        if code == pcode:
            leaf[code] = (loc.current[code],) * 3
        elif code.endswith("00"):
            leaf[code] = (loc.current[code], loc.current[code], loc.current[pcode])
    for code in sorted(loc.current):
        pcode = code[:2] + "0000"
        if code.endswith("00") or pcode not in leaf or _grouping(loc.current[code]):
            continue
        name = loc.current[code]
        if code[:4] + "00" in leaf:
            city = loc.current[code[:4] + "00"]
        elif code[:2] in MUNICIPALITIES:
            city = leaf[pcode][2]
        else:  # a county-level city or 林区 governed by the province directly (仙桃市)
            city = name
        leaf[code] = (name if name == city else city + name, city, leaf[pcode][2])
    return leaf


def _rollup(leaf: dict[str, tuple[str, str, str]]) -> Callable[[str], str | None]:
    """The code itself when current, else its prefecture, else its province (if current)."""

    def rollup(code: str) -> str | None:
        for candidate in (code, code[:4] + "00", code[:2] + "0000"):
            if candidate in leaf:
                return candidate
        return None

    return rollup


def _names_table(
    loc: _Loc, leaf: dict[str, tuple[str, str, str]], rollup: Callable[[str], str | None]
) -> pl.DataFrame:
    """Names at each level for every code in loc.dat (current names, else last ones)."""
    rows: list[tuple[str, str | None, str | None, str, str | None]] = []
    for code in sorted(loc.names):
        pcode = code[:2] + "0000"
        if pcode not in loc.names:
            continue
        province = loc.name(pcode)
        municipal = province if code[:2] in MUNICIPALITIES else None
        own = None if _grouping(loc.name(code)) else loc.name(code)
        district: str | None = None
        if code == pcode:
            city = municipal
        elif code.endswith("00"):
            city = own or municipal
        else:
            district = own
            pf = code[:4] + "00"
            prefecture = loc.name(pf) if pf in loc.names else None
            if prefecture is not None and not _grouping(prefecture):
                city = prefecture
            else:
                city = municipal or district
        rows.append((code, district, city, province, rollup(code)))
    for alias, target in CODE_ALIASES.items():
        rows += [(alias, *row[1:]) for row in rows if row[0] == target]
    return pl.DataFrame(
        rows, schema=["code", "district", "city", "province", "leaf"], orient="row"
    ).select(pl.all().cast(pl.String))


def _short_province(name: str) -> str | None:
    short = _PROVINCE_SUFFIX.sub("", name)
    return short if short != name and len(short) >= 2 else None


def _short_city(name: str) -> list[str]:
    """Short forms of a prefecture name as addresses write them (杭州, 凉山州, 凉山)."""
    match = _AUTONOMOUS.match(name)
    if match:
        return [match.group(1) + "州", match.group(1)]
    for suffix in ("市", "地区", "盟"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return [name[: -len(suffix)]]
    return []


def _candidates(loc: _Loc, rollup: Callable[[str], str | None]) -> dict[str, tuple[int, set[str]]]:
    """Every address start -> (fewest former names in it, leaf codes it may then mean); an
    empty set blocks the start (a street such as 四川路, not a region)."""
    found: dict[str, tuple[int, set[str]]] = {}

    def add(key: str, target: str | None, priority: int) -> None:
        best = found.get(key)
        if best is None or priority < best[0]:
            found[key] = (priority, set())
        elif priority > best[0]:
            return
        if target is not None:
            found[key][1].add(target)

    province_forms: dict[str, list[Form]] = {}
    for code in loc.names:
        if code.endswith("0000"):
            forms = loc.forms(code)
            shorts = [(s, p) for n, p in forms if (s := _short_province(n))]
            province_forms[code[:2]] = forms + shorts
            for abbrev, _ in shorts:
                for street in _STREET:
                    found[abbrev + street] = (-1, set())
    city_forms: dict[str, list[tuple[str, int, bool]]] = {}
    for code in loc.names:
        if code.endswith("00") and not code.endswith("0000"):
            forms = loc.forms(code)
            city_forms[code[:4]] = [(n, p, False) for n, p in forms] + [
                (s, p, True) for n, p in forms for s in _short_city(n)
            ]
    for code in sorted(loc.names):
        pforms = [*province_forms.get(code[:2], []), ("", 0)]
        target = rollup(code)
        if code.endswith("0000"):
            for p, pp in pforms[:-1]:
                add(p, target, pp)
        elif code.endswith("00"):
            for (p, pp), (c, pc, short) in product(pforms, city_forms.get(code[:4], [])):
                if p or not short:
                    add(p + c, target, pp + pc)
        else:
            cforms = [*city_forms.get(code[:4], []), ("", 0, False)]
            for d, pd in loc.forms(code):
                for (p, pp), (c, pc, _short) in product(pforms, cforms):
                    if p or c or d not in _GENERIC:
                        add(p + c + d, target, pp + pc + pd)
    return found


def _resolve(targets: set[str], leaf: dict[str, tuple[str, str, str]]) -> str | None:
    """The lowest region containing every target (null when they lie in different provinces)."""
    if len(targets) == 1:
        return next(iter(targets))
    if len({leaf[t] for t in targets}) == 1:  # one place under two codes (神农架林区)
        return max(targets)
    for width, pad in ((4, "00"), (2, "0000")):
        heads = {t[:width] for t in targets}
        if len(heads) == 1 and (code := heads.pop() + pad) in leaf:
            return code
    return None


@cache
def _regions() -> _Regions:
    loc = _load()
    leaf = _leaf_labels(loc)
    rollup = _rollup(leaf)
    found = _candidates(loc, rollup)
    keys = pl.DataFrame(
        {
            "key": list(found),
            "code": [_resolve(targets, leaf) if targets else None for _, targets in found.values()],
        },
        schema={"key": pl.String, "code": pl.String},
    ).with_columns(length=pl.col("key").str.len_chars())
    codes = sorted(leaf)
    leaves = pl.DataFrame(
        {
            "code": codes,
            "district": [leaf[c][0] for c in codes],
            "city": [leaf[c][1] for c in codes],
            "province": [leaf[c][2] for c in codes],
            "all": ["*"] * len(codes),
        }
    )
    lengths = tuple(sorted(set(keys.get_column("length").to_list()), reverse=True))
    return _Regions(
        leaves=leaves, names=_names_table(loc, leaf, rollup), keys=keys, key_lengths=lengths
    )


def _address_codes(addresses: pl.Series) -> pl.Series:
    """Longest known region start of each address -> leaf code (null if none or ambiguous)."""
    reg = _regions()
    head = (
        addresses.cast(pl.String)
        .str.slice(0, reg.key_lengths[0] + 8)
        .str.replace_all(r"\s+", "")
        .str.strip_prefix("中华人民共和国")
        .str.strip_prefix("中国")
    )
    todo = pl.DataFrame({"row": np.arange(len(head), dtype=np.int64), "head": head})
    todo = todo.filter(pl.col("head").str.len_chars() >= reg.key_lengths[-1])
    hits: list[pl.DataFrame] = []
    for length in reg.key_lengths:
        if todo.height == 0:
            break
        keys = reg.keys.filter(pl.col("length") == length).select("key", "code", hit=pl.lit(True))
        joined = todo.with_columns(key=pl.col("head").str.slice(0, length)).join(
            keys, on="key", how="left"
        )
        hit = joined.get_column("hit").is_not_null()
        hits.append(joined.filter(hit).select("row", "code"))
        todo = joined.filter(~hit).select("row", "head")
    found = pl.concat([pl.DataFrame(schema={"row": pl.Int64, "code": pl.String}), *hits])
    out = pl.repeat(None, len(head), dtype=pl.String, eager=True).alias("region")
    return out.scatter(found.get_column("row"), found.get_column("code"))


def _id_codes(id_numbers: pl.Series) -> pl.Series:
    """Leaf code of the birthplace registration in each resident ID number (first 6 digits)."""
    x = id_numbers.cast(pl.String).str.strip_chars().str.to_uppercase()
    six = x.str.slice(0, 6).set(~x.str.contains(_ID_FORMAT).fill_null(False), None)
    return _lookup(six, "leaf")


def _lookup(codes: pl.Series, field: str) -> pl.Series:
    """``field`` of the names table for each code, in order (null for unknown codes)."""
    names = _regions().names.select("code", pl.col(field).alias("__out"))
    probe = pl.DataFrame({"code": codes})
    joined = probe.join(names, on="code", how="left", maintain_order="left")
    return joined.get_column("__out").alias(codes.name)


def region_codes(
    *, addresses: pl.Series | None = None, id_numbers: pl.Series | None = None
) -> pl.Series:
    """Six-digit GB/T 2260 code (Utf8) of each customer's region, or null when unknown.

    From an address, the longest known region name sequence at its start decides: province
    (full or short: 浙江省 / 浙江), prefecture (杭州市 / 杭州, 凉山彝族自治州 / 凉山州), county;
    any of them may be left out (北京市朝阳区, 杭州市西湖区, 浙江省桐庐县). An address that
    stops at the city gives the city's ``xxxx00`` code, one naming only a province ``xx0000``;
    a start that several regions share (朝阳区 alone) gives the lowest region containing all of
    them, or null across provinces. Former names count (a name in use now wins over a former
    one).

    From a resident ID number (18 or 15 digits) it is the first six digits: the place where the
    number was first registered, usually the birthplace, not where the customer lives now.

    The address wins; the ID number fills in where the address gives nothing. A code no longer
    in use becomes its prefecture's or province's code, so every result is a leaf of
    :func:`region_hierarchy`.
    """
    if addresses is None and id_numbers is None:
        raise Invalid("region_codes needs addresses, ID numbers or both")
    if addresses is not None and id_numbers is not None and len(addresses) != len(id_numbers):
        raise Invalid(
            f"addresses ({len(addresses)} rows) and ID numbers ({len(id_numbers)} rows) differ"
            " in length"
        )
    out = _address_codes(addresses) if addresses is not None else None
    if id_numbers is not None:
        from_id = _id_codes(id_numbers)
        out = from_id if out is None else out.fill_null(from_id)
    assert out is not None
    return out.alias("region")


def region_names(codes: pl.Series, *, level: str) -> pl.Series:
    """Name of each code's region at ``level`` (district / city / province), null if unknown.

    Names are current ones from loc.dat, else the last one a code had. The city of a
    municipality's district is the municipality (北京市), of a county-level city governed by
    its province the city itself (仙桃市). A code coarser than ``level`` has no name there
    (330100 has no district), except that a municipality is its own city.
    """
    if level not in LEVELS:
        raise Invalid(f"region level must be one of {', '.join(LEVELS)}, not {level!r}")
    if codes.dtype.is_integer():
        codes = codes.cast(pl.String).str.zfill(6)
    return _lookup(codes.cast(pl.String), level)


def region_hierarchy() -> Hierarchy:
    """County-level codes in use -> district -> city -> province -> ``*``.

    Leaves are the current six-digit codes plus every current city (``xxxx00``) and province
    (``xx0000``) code, so addresses that stop early generalise too. District labels carry their
    city (杭州市西湖区; bare names repeat across cities); a city or province leaf repeats its
    own name at the levels below it.
    """
    return Hierarchy.build(name="region", table=_regions().leaves)
