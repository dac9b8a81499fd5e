"""Vectorised generation of orders and customer-service notes for a block of customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.synth import vocab
from dealvault.synth.customers import CustomerBlock, IntArray, cdf, day_number, pick, text

ORDER_COLUMNS: Final = ("订单号", "客户编号", "下单时间", "产品名称", "数量", "金额")
NOTE_COLUMNS: Final = ("客户编号", "记录时间", "备注")

ORDER_SCHEMA: Final = pl.Schema(
    {
        "订单号": pl.String(),
        "客户编号": pl.String(),
        "下单时间": pl.Datetime("ms"),
        "产品名称": pl.String(),
        "数量": pl.Int32(),
        "金额": pl.Decimal(12, 2),
    }
)
NOTE_SCHEMA: Final = pl.Schema(
    {"客户编号": pl.String(), "记录时间": pl.Datetime("ms"), "备注": pl.String()}
)

NOTE_PHONE_SHARE: Final = 0.20
NOTE_ID_SHARE: Final = 0.05
NOTE_EMAIL_SHARE: Final = 0.05
PREFERRED_PRODUCT_SHARE: Final = 0.5
BULK_ORDER_SHARE: Final = 0.005

# Share of orders per hour of day (online shop: evening peak).
_ORDER_HOURS: Final = (
    1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 4, 5, 5, 6, 5, 4, 4, 4, 5, 6, 8, 10, 11, 9, 4,
)  # fmt: skip
_NOTE_HOURS: Final = (0,) * 8 + (6, 8, 8, 7, 5, 7, 8, 8, 7, 6, 5, 4, 3, 2) + (0,) * 2


@dataclass(frozen=True, slots=True)
class _Catalog:
    names: pl.Series  # "洗衣液 2kg"
    price: IntArray  # fen
    product_cdf: npt.NDArray[np.float64]
    first_of_category: IntArray
    sizes_of_category: IntArray
    freq_rate: npt.NDArray[np.float64]  # order-rate multiplier per frequency, mean 1
    order_hour_cdf: npt.NDArray[np.float64]
    note_hour_cdf: npt.NDArray[np.float64]


@cache
def _catalog() -> _Catalog:
    cats = [p[0] for p in vocab.PRODUCTS]
    mult = np.array([f[2] for f in vocab.FREQUENCIES])
    share = np.array([f[1] for f in vocab.FREQUENCIES])
    return _Catalog(
        names=text([f"{p[0]} {p[1]}" for p in vocab.PRODUCTS]),
        price=np.array([p[2] for p in vocab.PRODUCTS], dtype=np.int64),
        product_cdf=cdf([p[3] for p in vocab.PRODUCTS]),
        first_of_category=np.array([cats.index(c) for c in vocab.CATEGORIES], dtype=np.int64),
        sizes_of_category=np.array([cats.count(c) for c in vocab.CATEGORIES], dtype=np.int64),
        freq_rate=mult / float(np.dot(mult, share) / share.sum()),
        order_hour_cdf=cdf(_ORDER_HOURS),
        note_hour_cdf=cdf(_NOTE_HOURS),
    )


def _timestamps(
    rng: np.random.Generator, start_day: IntArray, end_day: int, hour_cdf: npt.NDArray[np.float64]
) -> IntArray:
    """Milliseconds since the epoch, uniform over days in [start_day, end_day]."""
    m = int(start_day.shape[0])
    days = start_day + np.floor(rng.random(m) * (end_day - start_day + 1)).astype(np.int64)
    seconds = pick(rng, hour_cdf, m) * 3600 + rng.integers(0, 3600, size=m)
    ms: IntArray = (days * 86_400 + seconds) * 1000
    return ms


def orders_for(
    rng: np.random.Generator, block: CustomerBlock, *, mean: float, first_seq: int, as_of: date
) -> tuple[pl.DataFrame, IntArray]:
    """Orders for ``block`` (sorted by customer, then time) and the per-customer counts.

    Order numbers are ``DD`` + order date + a global 9-digit sequence starting at
    ``first_seq``.
    """
    c = _catalog()
    n = len(block.customer_id)
    counts = rng.poisson(mean * c.freq_rate[block.frequency]).astype(np.int64)
    cust = np.repeat(np.arange(n, dtype=np.int64), counts)
    m = int(cust.shape[0])
    ts = _timestamps(rng, block.registered[cust], day_number(as_of), c.order_hour_cdf)
    pref = block.preference[cust]
    preferred = c.first_of_category[pref] + np.floor(
        rng.random(m) * c.sizes_of_category[pref]
    ).astype(np.int64)
    product = np.where(
        rng.random(m) < PREFERRED_PRODUCT_SHARE, preferred, pick(rng, c.product_cdf, m)
    )
    qty = np.minimum(rng.geometric(0.55, m), 12)
    qty = np.where(rng.random(m) < BULK_ORDER_SHARE, rng.integers(10, 51, size=m), qty)
    order = np.lexsort((ts, cust))
    cust, ts, product, qty = cust[order], ts[order], product[order], qty[order]
    stamp = pl.Series("t", ts).cast(pl.Datetime("ms"))
    seq = pl.Series("s", np.arange(first_seq, first_seq + m, dtype=np.int64)).cast(pl.String)
    frame = pl.DataFrame(
        {
            "订单号": "DD" + stamp.dt.strftime("%Y%m%d") + seq.str.zfill(9),
            "客户编号": block.customer_id.gather(cust),
            "下单时间": stamp,
            "产品名称": c.names.gather(product),
            "数量": pl.Series(qty, dtype=pl.Int32),
            "金额": pl.Series(qty * c.price[product]).cast(pl.Decimal(14, 2)) / 100,
        }
    ).cast({"金额": pl.Decimal(12, 2)})
    return frame, counts


@dataclass(frozen=True, slots=True)
class _Phrases:
    openings: pl.Series
    body_opening_first: IntArray  # per body: first opening index of its topic
    body_opening_count: IntArray
    body_pre: pl.Series
    body_post: pl.Series
    body_has_product: npt.NDArray[np.bool_]
    phone: tuple[pl.Series, pl.Series]
    id_number: tuple[pl.Series, pl.Series]
    email: tuple[pl.Series, pl.Series]
    closings: pl.Series
    categories: pl.Series


@cache
def _phrases() -> _Phrases:
    def split(pairs: tuple[tuple[str, str], ...]) -> tuple[pl.Series, pl.Series]:
        return text([p[0] for p in pairs]), text([p[1] for p in pairs])

    bodies = [b.split("{p}", 1) if "{p}" in b else [b, ""] for _, b in vocab.NOTE_BODIES]
    topics = list(vocab.NOTE_OPENINGS)
    openings = [o for t in topics for o in vocab.NOTE_OPENINGS[t]]
    first = np.cumsum([0] + [len(vocab.NOTE_OPENINGS[t]) for t in topics])[:-1]
    topic = np.array([topics.index(t) for t, _ in vocab.NOTE_BODIES], dtype=np.int64)
    return _Phrases(
        openings=text(openings),
        body_opening_first=first[topic].astype(np.int64),
        body_opening_count=np.array(
            [len(vocab.NOTE_OPENINGS[topics[i]]) for i in topic], dtype=np.int64
        ),
        body_pre=text([b[0] for b in bodies]),
        body_post=text([b[1] for b in bodies]),
        body_has_product=np.array(["{p}" in b for _, b in vocab.NOTE_BODIES]),
        phone=split(vocab.NOTE_PHONE),
        id_number=split(vocab.NOTE_ID),
        email=split(vocab.NOTE_EMAIL),
        closings=text(vocab.NOTE_CLOSINGS),
        categories=text(vocab.CATEGORIES),
    )


def _choose(rng: np.random.Generator, series: pl.Series, m: int) -> pl.Series:
    return series.gather(rng.integers(0, len(series), size=m))


def notes_for(
    rng: np.random.Generator, block: CustomerBlock, *, mean: float, as_of: date
) -> tuple[pl.DataFrame, IntArray]:
    """Customer-service notes for ``block`` (sorted by customer, then time) and counts."""
    p = _phrases()
    n = len(block.customer_id)
    counts = rng.poisson(mean, n).astype(np.int64)
    cust = np.repeat(np.arange(n, dtype=np.int64), counts)
    m = int(cust.shape[0])
    ts = _timestamps(rng, block.registered[cust], day_number(as_of), _catalog().note_hour_cdf)
    order = np.lexsort((ts, cust))
    cust, ts = cust[order], ts[order]
    body = rng.integers(0, len(p.body_pre), size=m)
    opening = p.body_opening_first[body] + np.floor(
        rng.random(m) * p.body_opening_count[body]
    ).astype(np.int64)
    phone_pick = rng.integers(0, len(p.phone[0]), size=m)
    id_pick = rng.integers(0, len(p.id_number[0]), size=m)
    email_pick = rng.integers(0, len(p.email[0]), size=m)
    df = pl.DataFrame(
        {
            "open": p.openings.gather(opening),
            "pre": p.body_pre.gather(body),
            "product": p.categories.gather(block.preference[cust]),
            "has_product": p.body_has_product[body],
            "post": p.body_post.gather(body),
            "mobile": block.mobile.gather(cust),
            "phone_fmt": pick(rng, cdf([0.6, 0.25, 0.15]), m),
            "phone_pre": p.phone[0].gather(phone_pick),
            "phone_post": p.phone[1].gather(phone_pick),
            "has_phone": rng.random(m) < NOTE_PHONE_SHARE,
            "id": block.id_number.gather(cust),
            "id_pre": p.id_number[0].gather(id_pick),
            "id_post": p.id_number[1].gather(id_pick),
            "has_id": rng.random(m) < NOTE_ID_SHARE,
            "email": block.email.gather(cust),
            "email_pre": p.email[0].gather(email_pick),
            "email_post": p.email[1].gather(email_pick),
            "has_email": rng.random(m) < NOTE_EMAIL_SHARE,
            "close": _choose(rng, p.closings, m),
        }
    )
    col = pl.col
    mob = col("mobile")
    a, b, c = mob.str.slice(0, 3), mob.str.slice(3, 4), mob.str.slice(7, 4)
    phone = (
        pl.when(col("phone_fmt") == 1)
        .then(pl.concat_str(a, pl.lit("-"), b, pl.lit("-"), c))
        .when(col("phone_fmt") == 2)
        .then(pl.concat_str(a, pl.lit(" "), b, pl.lit(" "), c))
        .otherwise(mob)
    )

    def optional(flag: str, *parts: pl.Expr | str) -> pl.Expr:
        return pl.when(col(flag)).then(pl.concat_str(*parts)).otherwise(pl.lit(""))

    note = pl.concat_str(
        "open",
        "pre",
        optional("has_product", "product"),
        "post",
        optional("has_phone", "phone_pre", phone, "phone_post"),
        optional("has_id", "id_pre", "id", "id_post"),
        optional("has_email", "email_pre", "email", "email_post"),
        "close",
    )
    frame = pl.DataFrame(
        {
            "客户编号": block.customer_id.gather(cust),
            "记录时间": pl.Series("t", ts).cast(pl.Datetime("ms")),
            "备注": df.select(note).to_series(),
        }
    )
    return frame, counts
