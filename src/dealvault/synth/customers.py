"""Vectorised generation of one fixed-size block of synthetic customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.synth import vocab
from dealvault.synth.idnumbers import (
    BANK_BINS,
    MOBILE_PREFIX_WEIGHTS,
    MOBILE_PREFIXES,
    RIC_CHECK_CHARS,
    IntSet,
    first_duplicates,
    luhn_check_index,
    ric_check_index,
)
from dealvault.synth.names import TWO_CHAR_SHARE, name_tables
from dealvault.synth.regions import region_table

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

CUSTOMER_COLUMNS: Final = (
    "客户编号", "姓名", "性别", "出生日期", "身份证号", "手机号",
    "邮箱", "地址", "银行卡号", "注册日期", "偏好产品", "购买频率",
)  # fmt: skip

CUSTOMER_SCHEMA: Final = pl.Schema(
    {c: pl.Date() if c in ("出生日期", "注册日期") else pl.String() for c in CUSTOMER_COLUMNS}
)

FEMALE_SHARE: Final = 0.58  # household cleaning products skew towards female buyers
MOVED_SHARE: Final = 0.10  # address outside the ID-number region
EMPTY_EMAIL: Final = 0.15
EMPTY_CARD: Final = 0.30
EMPTY_ADDRESS: Final = 0.03
SECOND_PREFERENCE: Final = 0.30
REGISTRATION_START: Final = date(2014, 1, 1)

# (min age, max age, share) at the export date; 1% under 14 and 2% aged 14-17.
AGE_BUCKETS: Final[tuple[tuple[int, int, float], ...]] = (
    (6, 13, 0.01),
    (14, 17, 0.02),
    (18, 24, 0.09),
    (25, 34, 0.26),
    (35, 44, 0.25),
    (45, 54, 0.18),
    (55, 64, 0.12),
    (65, 74, 0.06),
    (75, 89, 0.01),
)

_EPOCH: Final = date(1970, 1, 1)


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - _EPOCH).days


def years_before(d: date, years: int) -> date:
    """Same calendar day ``years`` earlier (29 Feb maps to 28 Feb)."""
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        return d.replace(year=d.year - years, day=28)


def cdf(weights: FloatArray | list[float] | tuple[float, ...]) -> FloatArray:
    """Normalised cumulative distribution for :func:`pick`."""
    w = np.asarray(weights, dtype=np.float64)
    out = np.cumsum(w / w.sum())
    out[-1] = 1.0
    return out


def pick(rng: np.random.Generator, dist: FloatArray, n: int) -> IntArray:
    """Draw ``n`` indices from a cumulative distribution."""
    return np.searchsorted(dist, rng.random(n), side="right").astype(np.int64)


def text(values: tuple[str, ...] | list[str]) -> pl.Series:
    """A string Series for gathering by index."""
    return pl.Series(values=list(values), dtype=pl.String)


@dataclass(frozen=True, slots=True)
class _Vocab:
    categories: pl.Series
    category_cdf: FloatArray
    frequencies: pl.Series
    frequency_cdf: FloatArray
    streets: pl.Series
    street_suffixes: pl.Series
    communities: pl.Series
    community_suffixes: pl.Series
    domains: pl.Series
    domain_cdf: FloatArray
    mobile_prefixes: IntArray
    mobile_cdf: FloatArray
    bins: IntArray
    bin_body_mod: IntArray
    bin_cdf: FloatArray


@cache
def _vocab() -> _Vocab:
    cat_weight = {c: 0.0 for c in vocab.CATEGORIES}
    for cat, _, _, w in vocab.PRODUCTS:
        cat_weight[cat] += w
    lengths = np.array([b[1] for b in BANK_BINS], dtype=np.int64)
    return _Vocab(
        categories=text(vocab.CATEGORIES),
        category_cdf=cdf(list(cat_weight.values())),
        frequencies=text([f[0] for f in vocab.FREQUENCIES]),
        frequency_cdf=cdf([f[1] for f in vocab.FREQUENCIES]),
        streets=text(vocab.STREET_STEMS),
        street_suffixes=text(vocab.STREET_SUFFIXES),
        communities=text(vocab.COMMUNITIES),
        community_suffixes=text(vocab.COMMUNITY_SUFFIXES),
        domains=text([d[0] for d in vocab.EMAIL_DOMAINS]),
        domain_cdf=cdf([d[1] for d in vocab.EMAIL_DOMAINS]),
        mobile_prefixes=np.array(MOBILE_PREFIXES, dtype=np.int64),
        mobile_cdf=cdf(MOBILE_PREFIX_WEIGHTS),
        bins=np.array([b[0] for b in BANK_BINS], dtype=np.int64),
        bin_body_mod=10 ** (lengths - 7),  # BIN is 6 digits, check digit 1
        bin_cdf=cdf([b[2] for b in BANK_BINS]),
    )


@dataclass(frozen=True, slots=True)
class CustomerBlock:
    """A block of customers plus the hidden attributes orders and notes are derived from."""

    frame: pl.DataFrame
    customer_id: pl.Series
    mobile: pl.Series  # 11 digits, unformatted
    id_number: pl.Series
    email: pl.Series  # an address for everyone, also those whose 邮箱 is empty
    registered: IntArray  # day numbers
    preference: IntArray  # category index
    frequency: IntArray  # index into vocab.FREQUENCIES

    def head(self, k: int) -> CustomerBlock:
        return CustomerBlock(
            frame=self.frame.head(k),
            customer_id=self.customer_id.head(k),
            mobile=self.mobile.head(k),
            id_number=self.id_number.head(k),
            email=self.email.head(k),
            registered=self.registered[:k],
            preference=self.preference[:k],
            frequency=self.frequency[:k],
        )


def _birth_days(rng: np.random.Generator, n: int, as_of: date) -> IntArray:
    bucket = pick(rng, cdf([b[2] for b in AGE_BUCKETS]), n)
    # Age in whole years is in [lo, hi] iff born in (as_of - (hi+1)y, as_of - lo y].
    newest = np.array([day_number(years_before(as_of, b[0])) for b in AGE_BUCKETS])
    oldest = np.array([day_number(years_before(as_of, b[1] + 1)) + 1 for b in AGE_BUCKETS])
    lo, hi = oldest[bucket], newest[bucket]
    days: IntArray = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return days


def _ymd(days: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m_start = d.astype("datetime64[M]")
    m = m_start.astype(np.int64) % 12 + 1
    dd = (d - m_start.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def _names(rng: np.random.Generator, male: npt.NDArray[np.bool_]) -> tuple[pl.Series, ...]:
    t = name_tables()
    n = male.shape[0]
    s = pick(rng, t.surname_cdf, n)
    c1 = np.where(male, pick(rng, t.male_cdf, n), pick(rng, t.female_cdf, n))
    c2 = np.where(male, pick(rng, t.male_cdf, n), pick(rng, t.female_cdf, n))
    c2 = np.where(rng.random(n) < TWO_CHAR_SHARE, c2, t.empty_given)
    name = t.surname.gather(s) + t.given.gather(c1) + t.given.gather(c2)
    sur_py = t.surname_pinyin.gather(s)
    g1_py, g2_py = t.given_pinyin.gather(c1), t.given_pinyin.gather(c2)
    return name, sur_py, g1_py, g2_py


def _emails(
    rng: np.random.Generator, v: _Vocab, py: tuple[pl.Series, ...], birth_year: IntArray
) -> pl.Series:
    sur, g1, g2 = py
    n = len(sur)
    style = pick(rng, cdf([0.35, 0.15, 0.30, 0.20]), n)
    year_or_num = np.where(rng.random(n) < 0.4, birth_year, rng.integers(1, 1000, size=n))
    df = pl.DataFrame(
        {
            "sur": sur,
            "given": g1 + g2,
            "initials": sur.str.slice(0, 1) + g1.str.slice(0, 1) + g2.str.slice(0, 1),
            "num": year_or_num,
            "qq": rng.integers(100_000, 3_000_000_000, size=n),
            "style": style,
            "domain": v.domains.gather(pick(rng, v.domain_cdf, n)),
            "num2": rng.integers(100, 100_000, size=n),
        }
    )
    num = pl.col("num").cast(pl.String)
    local = (
        pl.when(pl.col("style") == 0)
        .then(pl.concat_str("sur", "given", num))
        .when(pl.col("style") == 1)
        .then(pl.concat_str("sur", pl.lit("."), "given"))
        .when(pl.col("style") == 2)
        .then(pl.col("qq").cast(pl.String))
        .otherwise(pl.concat_str("initials", pl.col("num2").cast(pl.String)))
    )
    domain = pl.when(pl.col("style") == 2).then(pl.lit(vocab.QQ_DOMAIN)).otherwise("domain")
    return df.select(pl.concat_str(local, pl.lit("@"), domain).alias("email")).to_series()


def _mobiles(rng: np.random.Generator, v: _Vocab, n: int) -> tuple[pl.Series, pl.Series]:
    prefix = v.mobile_prefixes[pick(rng, v.mobile_cdf, n)]
    digits = pl.Series("m", prefix * 100_000_000 + rng.integers(0, 100_000_000, size=n)).cast(
        pl.String
    )
    fmt = pick(rng, cdf([0.94, 0.03, 0.03]), n)
    m = pl.col("m")
    a, b, c = m.str.slice(0, 3), m.str.slice(3, 4), m.str.slice(7, 4)
    shown = (
        pl.DataFrame({"m": digits, "f": fmt})
        .select(
            pl.when(pl.col("f") == 1)
            .then(pl.concat_str(a, pl.lit("-"), b, pl.lit("-"), c))
            .when(pl.col("f") == 2)
            .then(pl.concat_str(pl.lit("+86 "), a, pl.lit(" "), b, pl.lit(" "), c))
            .otherwise(m)
        )
        .to_series()
    )
    return digits, shown


def _addresses(rng: np.random.Generator, v: _Vocab, region: IntArray) -> pl.Series:
    regions = region_table()
    n = int(region.shape[0])
    other = regions.sample(rng, n)
    other = np.where(other == region, (other + 1) % len(regions), other)
    where = np.where(rng.random(n) < MOVED_SHARE, other, region)
    df = pl.DataFrame(
        {
            "prefix": regions.address_prefix.gather(where),
            "street": v.streets.gather(rng.integers(0, len(v.streets), size=n)),
            "suffix": v.street_suffixes.gather(rng.integers(0, len(v.street_suffixes), size=n)),
            "no": np.minimum(rng.geometric(0.012, n), 1999),
            "community": v.communities.gather(rng.integers(0, len(v.communities), size=n))
            + v.community_suffixes.gather(rng.integers(0, len(v.community_suffixes), size=n)),
            "bldg": rng.integers(1, 31, size=n),
            "unit": rng.integers(1, 7, size=n),
            "room": rng.integers(1, 34, size=n) * 100 + rng.integers(1, 5, size=n),
            "style": pick(rng, cdf([0.40, 0.45, 0.15]), n),
            "empty": rng.random(n) < EMPTY_ADDRESS,
        }
    )
    s = pl.col
    detail = (
        pl.when(s("style") == 1)
        .then(
            pl.concat_str(
                "community",
                s("bldg").cast(pl.String),
                pl.lit("栋"),
                s("unit").cast(pl.String),
                pl.lit("单元"),
                s("room").cast(pl.String),
                pl.lit("室"),
            )
        )
        .when(s("style") == 2)
        .then(
            pl.concat_str(
                "community",
                s("bldg").cast(pl.String),
                pl.lit("号楼"),
                s("room").cast(pl.String),
                pl.lit("室"),
            )
        )
        .otherwise(pl.lit(""))
    )
    full = pl.concat_str(
        "prefix", "street", "suffix", s("no").cast(pl.String), pl.lit("号"), detail
    )
    return df.select(pl.when(s("empty")).then(None).otherwise(full).alias("a")).to_series()


def _bank_cards(rng: np.random.Generator, v: _Vocab, n: int) -> pl.Series:
    b = pick(rng, v.bin_cdf, n)
    mod = v.bin_body_mod[b]
    payload = v.bins[b] * mod + rng.integers(0, 10**12, size=n) % mod
    card = payload * 10 + luhn_check_index(payload)
    series = pl.Series("card", card).cast(pl.String)
    return series.set(pl.Series(rng.random(n) < EMPTY_CARD), None)


def _unique_ids(
    rng: np.random.Generator,
    first17: IntArray,
    place_date: IntArray,
    sex_digit: IntArray,
    taken: IntSet | None,
) -> IntArray:
    """Redraw the sequence code of ID numbers already used (in this block or in ``taken``)."""
    for _ in range(50):
        dup = first_duplicates(first17)
        if taken is not None:
            dup |= taken.contains(first17)
        k = int(dup.sum())
        if not k:
            break
        first17[dup] = place_date[dup] + rng.integers(0, 499, size=k) * 2 + sex_digit[dup]
    if taken is not None:
        taken.add(first17)
    return first17


def customer_block(
    rng: np.random.Generator, start: int, n: int, as_of: date, taken: IntSet | None = None
) -> CustomerBlock:
    """Generate customers ``start .. start+n-1`` (0-based) from ``rng``.

    ``taken`` holds the ID numbers (first 17 digits) of earlier blocks; new ones avoid
    them and are added to it, so ID numbers are unique across an export.
    """
    v = _vocab()
    regions = region_table()
    male = rng.random(n) >= FEMALE_SHARE
    birth = _birth_days(rng, n, as_of)
    year, month, day = _ymd(birth)
    region = regions.sample_for_years(rng, year)
    # Sequence code 001-999: odd for men, even for women.
    sex_digit = np.where(male, 1, 2)
    place_date = regions.codes[region] * 10**11 + (year * 10_000 + month * 100 + day) * 1000
    first17 = place_date + rng.integers(0, 499, size=n) * 2 + sex_digit
    first17 = _unique_ids(rng, first17, place_date, sex_digit, taken)
    id_number = pl.Series("id", first17).cast(pl.String) + text(list(RIC_CHECK_CHARS)).gather(
        ric_check_index(first17)
    )
    name, *pinyin = _names(rng, male)
    mobile, mobile_shown = _mobiles(rng, v, n)
    email = _emails(rng, v, tuple(pinyin), year)
    address = _addresses(rng, v, region)
    card = _bank_cards(rng, v, n)
    first_day = max(day_number(REGISTRATION_START), 0)
    end = day_number(as_of)
    lo = np.maximum(birth + 1, first_day)
    registered = lo + np.floor(rng.random(n) * (end - lo + 1)).astype(np.int64)
    pref = pick(rng, v.category_cdf, n)
    k = len(v.categories)
    pref2 = (pref + rng.integers(1, k, size=n)) % k
    has2 = rng.random(n) < SECOND_PREFERENCE
    freq = pick(rng, v.frequency_cdf, n)
    email_empty = rng.random(n) < EMPTY_EMAIL
    customer_id = pl.Series("id", np.arange(start + 1, start + n + 1)).cast(pl.String).str.zfill(8)
    customer_id = "C" + customer_id
    frame = pl.DataFrame(
        {
            "客户编号": customer_id,
            "姓名": name,
            "性别": pl.Series(np.where(male, "男", "女"), dtype=pl.String),
            "出生日期": pl.Series(birth.astype(np.int32)).cast(pl.Date),
            "身份证号": id_number,
            "手机号": mobile_shown,
            "邮箱": email.set(pl.Series(email_empty), None),
            "地址": address,
            "银行卡号": card,
            "注册日期": pl.Series(registered.astype(np.int32)).cast(pl.Date),
            "偏好产品": v.categories.gather(pref)
            + pl.Series(np.where(has2, "、", ""), dtype=pl.String)
            + v.categories.gather(pref2).set(pl.Series(~has2), ""),
            "购买频率": v.frequencies.gather(freq),
        }
    )
    return CustomerBlock(
        frame=frame,
        customer_id=customer_id,
        mobile=mobile,
        id_number=id_number,
        email=email,
        registered=registered,
        preference=pref,
        frequency=freq,
    )
