"""GB/T 2260 region codes and place names (python-stdnum's ``cn/loc.dat``) as lookup tables."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt

from dealvault.synth.regions import read_loc_dat

# Residence permits for Hong Kong, Macao and Taiwan residents (since 2018) use these codes
# with the resident-ID layout and checksum; loc.dat lacks 830000.
PERMIT_CODES: Final = (810000, 820000, 830000)
_PLACEHOLDERS: Final = frozenset({"市辖区", "县", "郊区", "矿区", "省直辖县级行政单位"})
# Short province names as they open addresses.
PROVINCE_SHORT: Final = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆",
    "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆", "台湾", "香港",
    "澳门",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegionCodes:
    """Every 6-digit code that ever existed: ``index[code] >= 0`` (current or withdrawn)."""

    index: npt.NDArray[np.int32]  # 1,000,000 entries; -1 for codes that never existed

    def known(self, codes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """True where the code ever existed (codes outside 0..999999 are unknown).

        The birth year is not compared with the code's creation or withdrawal: a number keeps
        the code it was issued with, and numbers are reissued under the codes of new districts
        (a 1985 birth under 310115, created in 1992, is a real ID number).
        """
        inside = (codes >= 0) & (codes < 1_000_000)
        ok: npt.NDArray[np.bool_] = inside & (self.index[np.where(inside, codes, 0)] >= 0)
        return ok


@cache
def region_codes() -> RegionCodes:
    """Build (once) the table of every code in loc.dat's history plus the permit codes."""
    _, entries = read_loc_dat()
    codes = sorted({int(c) for c in entries} | set(PERMIT_CODES))
    index = np.full(1_000_000, -1, dtype=np.int32)
    index[np.array(codes, dtype=np.int64)] = np.arange(len(codes), dtype=np.int32)
    return RegionCodes(index=index)


def _clean(name: str) -> str | None:
    if name in _PLACEHOLDERS or "直辖" in name or len(name) < 2:
        return None
    return name


@cache
def place_names() -> tuple[str, ...]:
    """Province, prefecture and county names (current and former) plus short forms.

    Short forms: province names without 省/市/自治区 and city names without 市 when at least
    two characters remain. County names are kept whole (a bare 朝阳 or 和平 is too common).
    """
    provinces, entries = read_loc_dat()
    names: set[str] = set(PROVINCE_SHORT)
    names.update(n for n in provinces.values() if _clean(n))
    for code, entry in entries.items():
        for _start, _end, raw in entry.segments:
            name = _clean(raw)
            if name is None:
                continue
            names.add(name)
            if code.endswith("00") and name.endswith("市") and len(name) >= 3:
                names.add(name[:-1])
    return tuple(sorted(names))
