"""The geometry of the aggregates' charts, drawn by the templates as inline SVG with
attributes only (the Content-Security-Policy forbids inline styles): horizontal bars per
group (province, month, …), and provinces as a tile map. Suppressed cells are drawn as
suppressed, never as a zero-length bar."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from dealvault.deidentify.suppression import ALL

#: bars drawn at most (the table below the chart lists every cell)
MOST_BARS: Final = 60
BAR_HEIGHT: Final = 22
BAR_GAP: Final = 6
LABEL_WIDTH: Final = 190
PLOT_WIDTH: Final = 440
VALUE_WIDTH: Final = 110


@dataclass(frozen=True)
class Bar:
    label: str
    #: None: suppressed
    value: float | None
    y: int
    width: int

    @property
    def middle(self) -> int:
        return self.y + BAR_HEIGHT // 2


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    #: the cells there are (more than are drawn when over MOST_BARS)
    total: int
    maximum: float
    height: int
    width: int = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    label_width: int = LABEL_WIDTH
    plot_width: int = PLOT_WIDTH
    bar_height: int = BAR_HEIGHT


def cells(rows: Sequence[dict[str, Any]], *, group: str) -> list[dict[str, Any]]:
    """The cells of one grouping: every row but the margin ``(all)``."""
    return [r for r in rows if r.get(group) != ALL]


def bar_chart(rows: Sequence[dict[str, Any]], *, group: str, value: str) -> BarChart:
    """One bar per cell of ``group``, its length ``value`` (on one scale from 0 to the
    largest released value); a suppressed cell gets no length, it is marked suppressed."""
    shown = cells(rows, group=group)
    released = [
        float(r[value]) for r in shown if not r.get("suppressed") and r.get(value) is not None
    ]
    top = max(released, default=0.0)
    bars = []
    for i, r in enumerate(shown[:MOST_BARS]):
        hidden = bool(r.get("suppressed")) or r.get(value) is None
        v = None if hidden else float(r[value])
        width = 0 if v is None or top <= 0 else max(1, round(v / top * PLOT_WIDTH))
        bars.append(
            Bar(
                label=str(r.get(group)),
                value=v,
                y=i * (BAR_HEIGHT + BAR_GAP) + BAR_GAP,
                width=width,
            )
        )
    height = len(bars) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    return BarChart(bars=bars, total=len(shown), maximum=top, height=max(height, 40))


# -- provinces as tiles ------------------------------------------------------------------
TILE: Final = 62
#: (column, row) of each province-level region on a tile grid, roughly where it lies
TILES: Final = {
    "黑龙江": (8, 0),
    "内蒙古": (5, 1), "吉林": (8, 1),
    "新疆": (1, 2), "宁夏": (4, 2), "山西": (5, 2), "北京": (6, 2), "辽宁": (7, 2),
    "青海": (2, 3), "甘肃": (3, 3), "陕西": (4, 3), "河南": (5, 3), "河北": (6, 3),
    "天津": (7, 3),
    "西藏": (1, 4), "四川": (3, 4), "重庆": (4, 4), "湖北": (5, 4), "安徽": (6, 4),
    "山东": (7, 4),
    "云南": (3, 5), "贵州": (4, 5), "湖南": (5, 5), "江西": (6, 5), "江苏": (7, 5),
    "上海": (8, 5),
    "广西": (4, 6), "广东": (5, 6), "福建": (6, 6), "浙江": (7, 6), "台湾": (8, 6),
    "海南": (4, 7), "澳门": (5, 7), "香港": (6, 7),
}  # fmt: skip
_SUFFIX = re.compile(r"(?:特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区|省|市)$")


@dataclass(frozen=True)
class Tile:
    short: str
    name: str | None
    x: int
    y: int
    value: float | None
    #: 0: no customer there (or not in the release); 1..5: the share of the largest value;
    #: "s": suppressed
    shade: str

    @property
    def cx(self) -> int:
        return self.x + TILE // 2


@dataclass(frozen=True)
class TileMap:
    tiles: list[Tile]
    width: int
    height: int
    #: released cells of regions the grid does not know (shown in the table only)
    elsewhere: int


def short_name(province: str) -> str:
    return _SUFFIX.sub("", province.strip())


def tile_map(rows: Sequence[dict[str, Any]], *, group: str, value: str) -> TileMap:
    """Every province-level region as a tile, shaded by ``value`` (five steps of the
    largest released value), suppressed ones marked so."""
    by_short: dict[str, dict[str, Any]] = {}
    elsewhere = 0
    for r in cells(rows, group=group):
        short = short_name(str(r.get(group)))
        if short in TILES:
            by_short[short] = r
        else:
            elsewhere += 1
    released = [
        float(r[value])
        for r in by_short.values()
        if not r.get("suppressed") and r.get(value) is not None
    ]
    top = max(released, default=0.0)
    tiles = []
    for short, (col, row) in TILES.items():
        found = by_short.get(short)
        v: float | None = None
        if found is None:
            shade = "0"
        elif found.get("suppressed") or found.get(value) is None:
            shade = "s"
        else:
            v = float(found[value])
            shade = str(min(5, max(1, math.ceil(v / top * 5)))) if top > 0 else "1"
        tiles.append(
            Tile(
                short=short,
                name=None if found is None else str(found.get(group)),
                x=col * TILE + 2,
                y=row * TILE + 2,
                value=v,
                shade=shade,
            )
        )
    return TileMap(tiles=tiles, width=9 * TILE + 4, height=8 * TILE + 4, elsewhere=elsewhere)
