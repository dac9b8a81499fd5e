"""Column classifier: header, validated share of sampled values and dtype -> PII type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import polars as pl

from dealvault.classify import detectors as d
from dealvault.classify import intl_adjust
from dealvault.classify.cells import Cells, even_sample, to_text
from dealvault.classify.dates import excel_serials, parse_dates
from dealvault.classify.decide import Decision, decide
from dealvault.classify.headers import DATES, FIELD_TYPES, HeaderHint, header_hint
from dealvault.classify.minors import birth_like, minor_share, minors
from dealvault.classify.types import FIELD_FROM_HEADER, NEEDS_HEADER, SERIAL_SUSPECTS, TYPES
from dealvault.classify.validators import BoolArray, IntArray, sequential
from dealvault.errors import Invalid
from dealvault.ingest.fields import FIELDS, Category

__all__ = ["ColumnClass", "classify_column", "classify_frame", "minors"]

SCREEN_ROWS: Final = 1_000  # gates, then detectors whose gate passed, run on this many first
SCREEN_MIN: Final = 0.1  # ... and on the whole sample only when they matched this share
STAT_ROWS: Final = 5_000  # distribution statistics use a fixed-size subsample
DATE_TYPES: Final = frozenset({*DATES, "date_of_birth"})
# Categories: at most 20 distinct labels of at most 20 characters, each seen 5 times on average,
# in a sample of 20 values or more; a tier word outweighs these weaker readings of a value.
LABEL_MIN_ROWS: Final = 20
LABEL_MAX_DISTINCT: Final = 20
LABEL_MAX_RATIO: Final = 0.2
LABEL_MAX_CHARS: Final = 20
LABEL_BEATS: Final = ("product", "cn_name", "customer_id", "free_text")
NAME_MIN_DISTINCT: Final = 0.15  # names repeat little; product words a lot
NAME_MAX_TOP: Final = 0.1
LOOSE_NAME_MIN: Final = 0.15  # common-character share before rarer characters may count


@dataclass(frozen=True, slots=True)
class ColumnClass:
    """Classification of one column. ``evidence`` holds figures only, never values."""

    pii_type: str | None
    category: Category
    sensitive: bool
    confidence: float
    field: str | None
    evidence: dict[str, float]


def classify_column(
    *,
    name: str | None,
    values: pl.Series,
    sample_size: int = 10_000,
    today: date | None = None,
) -> ColumnClass:
    """Classify one column from its header (may be None), a sample of values and the dtype.

    ``sample_size`` non-null values, spread evenly over the column, are examined (all of
    them when the column is shorter). ``today`` bounds plausible birth dates.
    """
    if sample_size < 1:
        raise Invalid("sample_size must be at least 1")
    hint = header_hint(name)
    today = today or date.today()
    dtype = values.dtype
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return _temporal(hint, values, sample_size, today)
    if dtype.is_numeric():
        # numbers under a date header may be Excel serial dates: the text path reads them
        result = None if _names_date(hint) else _numeric(hint, values, sample_size)
        if result is not None:
            return result
    elif dtype not in (pl.String, pl.Categorical) and not isinstance(dtype, pl.Enum):
        return _result(hint, Decision(None, 0.0), {"rows": float(len(values))}, text=False)
    return _text(hint, values, sample_size, today)


def classify_frame(
    *, frame: pl.DataFrame, sample_size: int = 10_000, today: date | None = None
) -> dict[str, ColumnClass]:
    """Classify every column of ``frame`` by its header and values."""
    return {
        col: classify_column(name=col, values=frame[col], sample_size=sample_size, today=today)
        for col in frame.columns
    }


# --- result ------------------------------------------------------------------------------


def _result(
    hint: HeaderHint, decision: Decision, evidence: dict[str, float], *, text: bool
) -> ColumnClass:
    evidence = {k: round(float(v), 4) for k, v in evidence.items()}
    evidence["header"] = hint.strength
    t = decision.pii_type
    if decision.header_only:
        evidence["header_only"] = 1.0
    if t is None:
        spec = FIELDS.get(hint.field) if hint.field else None
        default = Category.FREE_TEXT if text else Category.TRANSACTION
        sensitive = any(TYPES[h].sensitive for h in hint.types)
        category = Category.SENSITIVE if sensitive else (spec.category if spec else None) or default
        conf = round(hint.strength * 0.3, 4) if hint.types else 0.0
        return ColumnClass(None, category, sensitive, conf, None, evidence)
    info = TYPES[t]
    field, category = info.field, info.category
    if t in FIELD_FROM_HEADER and hint.field and t in FIELD_TYPES.get(hint.field, ()):
        field = hint.field
        category = FIELDS[hint.field].category or category
    return ColumnClass(t, category, info.sensitive, decision.confidence, field, evidence)


# --- text columns ------------------------------------------------------------------------


def _mean(mask: BoolArray) -> float:
    return float(mask.mean()) if mask.shape[0] else 0.0


def _share(values: pl.Series, pattern: str) -> float:
    return _mean(values.str.contains(pattern).fill_null(False).to_numpy())


def _text(hint: HeaderHint, values: pl.Series, sample_size: int, today: date) -> ColumnClass:
    total = len(values)
    s = values.drop_nulls()
    sample = even_sample(s, sample_size)
    cells = Cells(sample, today=today, drop_blank=True)
    n = len(cells)
    fill = (n / len(sample)) * (len(s) / total) if len(sample) else 0.0
    ev: dict[str, float] = {"rows": total, "sample": n, "fill_rate": fill}
    if n == 0:
        return _result(hint, Decision(None, 0.0), ev, text=True)
    screen = cells if n <= SCREEN_ROWS else cells.subsample(SCREEN_ROWS)
    gates = d.gate_shares(screen)
    first = {
        t: _mean(f(screen))
        if (gates[t] >= SCREEN_MIN and t not in NEEDS_HEADER) or t in hint.types
        else 0.0
        for t, f in d.DETECTORS.items()
    }
    hinted = {t for t in hint.types if first.get(t, 0.0) > 0}
    wanted = {t for t, sh in first.items() if sh >= SCREEN_MIN} | hinted
    if screen is cells:
        shares = {t: first[t] for t in wanted}
    else:
        shares = {t: _mean(d.DETECTORS[t](cells)) for t in wanted}
    for t in hint.types:
        shares.setdefault(t, 0.0)  # named by the header, nothing matched: say so
    if _names_date(hint):
        _serial_dates(hint, shares, cells, today)
    stat = even_sample(cells.raw, STAT_ROWS)
    _adjust(hint, shares, cells, stat, today, ev)
    ev.update({f"share.{t}": sh for t, sh in shares.items()})

    def shape_share(pattern: str) -> float:
        return _share(stat, pattern)

    return _result(hint, decide(hint, shares, n, shape_share), ev, text=True)


def _adjust(
    hint: HeaderHint,
    shares: dict[str, float],
    cells: Cells,
    stat: pl.Series,
    today: date,
    ev: dict[str, float],
) -> None:
    """Column-level checks that per-value validation cannot make."""
    if any(shares.get(t, 0.0) >= 0.5 for t in SERIAL_SUSPECTS):
        serial = sequential(stat)
        ev["sequential"] = float(serial)
        if serial:
            for t in SERIAL_SUSPECTS & shares.keys():
                shares[t] = 0.0
    if shares.get("cn_name", 0.0) >= LOOSE_NAME_MIN:
        _names(hint, shares, cells, stat, ev)
    if max(shares.get("date", 0.0), shares.get("date_of_birth", 0.0)) >= 0.5:
        ok, days = parse_dates(stat, serials=_names_date(hint))
        _dates(hint, shares, days[ok], today, ev)
    if min(shares.get("bank_card", 0.0), shares.get("credit_card", 0.0)) >= 0.5:
        bank = d.bank_card(cells)
        up = _mean(d.unionpay(cells)) / max(_mean(bank), 1e-9)
        ev["unionpay_share"] = up
        named = hint.types[0] if hint.types else None
        if named == "credit_card" or (named != "bank_card" and up < 0.2):
            shares["bank_card"] = 0.0
        else:
            shares["credit_card"] = 0.0
    if shares.get("cn_ric", 0.0) >= 0.5:
        ev["minor_share"] = minor_share(ids=stat, birth_days=None, today=today)
    intl_adjust.adjust_text(hint=hint, shares=shares, cells=cells, stat=stat, ev=ev)
    _labels(hint, shares, stat, ev)


def _labels(
    hint: HeaderHint, shares: dict[str, float], stat: pl.Series, ev: dict[str, float]
) -> None:
    """Categories: membership tiers (金卡 names a tier, not a card product), and any column of
    a few short labels repeated throughout that neither the values nor the header explain
    otherwise (A类客户, 线上/门店; under 产品名称 a few repeated words stay products)."""
    if "product" in hint.types:  # 黄金会员 in a product column is a membership sold
        shares.pop("label", None)
        return
    if shares.get("label", 0.0) >= 0.5:
        for t in LABEL_BEATS:
            if t in shares:
                shares[t] = 0.0
        return
    n = len(stat)
    if n < LABEL_MIN_ROWS or any(sh >= 0.5 for sh in shares.values()):
        return
    if hint.types and "label" not in hint.types:
        return
    counts = stat.value_counts().get_column("count")
    ev["distinct_labels"] = len(counts)
    if len(counts) > min(LABEL_MAX_DISTINCT, n * LABEL_MAX_RATIO):
        return
    if int(stat.str.len_chars().max() or 0) > LABEL_MAX_CHARS:  # type: ignore[arg-type]
        return
    shares["label"] = float(counts.filter(counts >= 2).sum()) / n


def _names_date(hint: HeaderHint) -> bool:
    return not DATE_TYPES.isdisjoint(hint.types)


def _serial_dates(hint: HeaderHint, shares: dict[str, float], cells: Cells, today: date) -> None:
    """Under a date header, Excel serial numbers (45321, 44927.5) count as dates: whole
    numbers as dates or birth dates, those with a fraction as date-times."""
    serial, _, timed = excel_serials(cells.raw)
    if not serial.any():
        return
    ok, all_days = parse_dates(cells.raw, serials=True)
    past = ok & (all_days <= (today - date(1970, 1, 1)).days)
    shares["date"] = max(shares.get("date", 0.0), _mean(ok & ~timed))
    shares["date_of_birth"] = max(shares.get("date_of_birth", 0.0), _mean(past & ~timed))
    if timed.any():
        shares["datetime"] = max(shares.get("datetime", 0.0), _mean(timed))


def _names(
    hint: HeaderHint,
    shares: dict[str, float],
    cells: Cells,
    stat: pl.Series,
    ev: dict[str, float],
) -> None:
    """Names barely repeat; product words do. Rarer given-name characters count when the
    column is otherwise plainly a list of distinct names."""
    counts = stat.value_counts(sort=True)
    distinct = len(counts) / len(stat)
    top = int(counts["count"][0]) / len(stat)
    ev["distinct_ratio"], ev["top_share"] = distinct, top
    if shares["cn_name"] < 0.9:
        loose = _mean(d.cn_name_loose(cells))
        ev["share.cn_name_loose"] = loose
        if loose >= 0.9 and distinct >= 0.5 and top <= 0.05:
            shares["cn_name"] = loose
    repetitive = len(stat) >= 100 and (distinct < NAME_MIN_DISTINCT or top > NAME_MAX_TOP)
    if repetitive and "cn_name" not in hint.types:
        shares["cn_name"] = 0.0


def _dates(
    hint: HeaderHint,
    shares: dict[str, float],
    days: IntArray,
    today: date,
    ev: dict[str, float],
) -> None:
    """Birth dates or other dates: header first, else the spread of the years."""
    if "date_of_birth" in hint.types:
        shares.pop("date", None)
    elif hint.types:
        shares.pop("date_of_birth", None)
    elif birth_like(days, today):
        shares.pop("date", None)
    else:
        shares.pop("date_of_birth", None)
    if "date_of_birth" in shares:
        ev["minor_share"] = minor_share(ids=None, birth_days=days, today=today)


# --- typed columns -----------------------------------------------------------------------


def _temporal(hint: HeaderHint, values: pl.Series, sample_size: int, today: date) -> ColumnClass:
    total = len(values)
    sample = even_sample(values.drop_nulls(), sample_size)
    n = len(sample)
    ev: dict[str, float] = {"rows": total, "sample": n, "fill_rate": n and values.count() / total}
    if n == 0:
        return _result(hint, Decision(None, 0.0), ev, text=False)
    if sample.dtype == pl.Date:
        days = sample.cast(pl.Int64).to_numpy()
        shares = {"date": 1.0}
    else:
        midnight = bool((sample.dt.truncate("1d") == sample).all())  # dates stored as times
        days = sample.dt.date().cast(pl.Int64).to_numpy()
        shares = {"date": 1.0} if midnight else {"datetime": 1.0}
    lo = (date(1900, 1, 1) - date(1970, 1, 1)).days
    plausible = (days >= lo) & (days <= (today - date(1970, 1, 1)).days)
    if "date" in shares:
        shares["date_of_birth"] = _mean(plausible)
        _dates(hint, shares, days[plausible], today, ev)
    elif "date_of_birth" in hint.types:
        shares["date_of_birth"] = _mean(plausible)  # a birth date stored with a time
    ev.update({f"share.{t}": sh for t, sh in shares.items()})
    return _result(hint, decide(hint, shares, n, lambda _p: 0.0), ev, text=False)


def _numeric(hint: HeaderHint, values: pl.Series, sample_size: int) -> ColumnClass | None:
    """Amounts and quantities; None sends big whole numbers (phones, IDs) to the text path."""
    total = len(values)
    s = values.drop_nulls()
    if values.dtype.is_float():
        s = s.filter(s.is_not_nan())
    sample = even_sample(s, sample_size)
    n = len(sample)
    ev: dict[str, float] = {"rows": total, "sample": n, "fill_rate": n and len(s) / total}
    if n == 0:
        return _result(hint, Decision(None, 0.0), ev, text=False)
    f = sample.cast(pl.Float64)
    whole = bool((f.round(0) == f).all())
    biggest = float(f.abs().max() or 0.0)  # type: ignore[arg-type]
    if whole and biggest >= 1e6:
        return None
    cents = (f * 100).round(0)
    two_places = _mean(((cents - f * 100).abs() < 1e-6).to_numpy())
    shares: dict[str, float] = {}
    if values.dtype.is_decimal() or not whole:
        shares["amount"] = two_places
    else:
        shares["quantity"] = _mean(((f >= 0) & (f <= 100_000)).to_numpy())
        if "amount" in hint.types:
            shares["amount"] = 1.0
        intl_adjust.adjust_numeric(hint=hint, shares=shares, values=even_sample(f, STAT_ROWS))
    ev.update({f"share.{t}": sh for t, sh in shares.items()})
    text = to_text(even_sample(sample, STAT_ROWS))

    def shape_share(pattern: str) -> float:
        return _share(text, pattern)

    return _result(hint, decide(hint, shares, n, shape_share), ev, text=False)
