"""Messy customer exports (``synth --messy``): the cells and headers real CRM exports have.

Placeholders (无, 暂无, N/A, -) in phone, e-mail and ID cells; two phones in one cell; birth
and registration dates as Excel serial numbers, 2024年3月5日 or 2024年3月; a membership tier
(会员等级); a column with no header and a repeated header. Every choice is a function of the
seed and the customer number (hashes), so it does not depend on how the rows are batched.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from dealvault.synth.customers import CUSTOMER_COLUMNS

#: Frame columns (unique) and the header written for each (one empty, one repeated).
MESSY_COLUMNS: Final = (*CUSTOMER_COLUMNS, "会员等级", "门店", "备注", "渠道")
MESSY_HEADERS: Final = (*CUSTOMER_COLUMNS, "会员等级", "", "备注", "备注")
MESSY_SCHEMA: Final = pl.Schema(dict.fromkeys(MESSY_COLUMNS, pl.String()))

PLACEHOLDERS: Final = ("无", "暂无", "N/A", "-", "不详")
SEPARATORS: Final = ("/", "，", "、", " ", ";")
TIERS: Final = ("普通会员", "普通会员", "普通会员", "银卡", "银卡", "金卡", "白金卡", "钻石会员")
REMARKS: Final = ("", "", "", "老客户", "已回访", "无", "需开发票", "投诉已处理")
CHANNELS: Final = ("线上商城", "线下门店", "电话订购", "微信小程序")
MOBILE_PREFIXES: Final = ("135", "137", "139", "150", "158", "186", "188", "199")
# Shares of messy cells.
PHONE_PLACEHOLDER: Final = 0.03
PHONE_TWO: Final = 0.05
EMAIL_PLACEHOLDER: Final = 0.04
ID_PLACEHOLDER: Final = 0.01
_EXCEL_1970: Final = 25_569  # Excel serial number of 1970-01-01


def _u(key: pl.Expr, seed: int, salt: int) -> pl.Expr:
    """A uniform number in [0, 1) per customer, from the seed, a salt and the customer key."""
    return key.hash(seed=seed * 1_000 + salt) % 1_000_000 / 1_000_000


def _pick(options: tuple[str, ...], u: pl.Expr) -> pl.Expr:
    index = (u * len(options)).floor().cast(pl.Int64).clip(0, len(options) - 1)
    return index.replace_strict(dict(enumerate(options)), return_dtype=pl.String)


def _dates(col: str, u: pl.Expr, *, serial: float, chinese: float, month: float) -> pl.Expr:
    """ISO text, or for shares of the rows an Excel serial, 2024年3月5日, 2024年03月05日 or
    2024年3月."""
    d = pl.col(col)
    y, m, day = d.dt.year().cast(pl.String), d.dt.month(), d.dt.day()
    long = pl.concat_str(y, pl.lit("年"), m.cast(pl.String), pl.lit("月"), day.cast(pl.String))
    padded = pl.concat_str(
        y,
        pl.lit("年"),
        m.cast(pl.String).str.zfill(2),
        pl.lit("月"),
        day.cast(pl.String).str.zfill(2),
        pl.lit("日"),
    )
    return (
        pl.when(u < serial)
        .then((d.cast(pl.Int32) + _EXCEL_1970).cast(pl.String))
        .when(u < serial + chinese / 2)
        .then(long + "日")
        .when(u < serial + chinese)
        .then(padded)
        .when(u < serial + chinese + month)
        .then(pl.concat_str(y, pl.lit("年"), m.cast(pl.String), pl.lit("月")))
        .otherwise(d.dt.strftime("%Y-%m-%d"))
    )


def messify(frame: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    """The customers ``frame`` as a messy export: :data:`MESSY_COLUMNS`, all text."""
    key = pl.col("客户编号")
    u = [_u(key, seed, salt) for salt in range(12)]
    second = pl.concat_str(
        _pick(MOBILE_PREFIXES, u[2]),
        (key.hash(seed=seed) % 100_000_000).cast(pl.String).str.zfill(8),
    )
    phone = pl.col("手机号")
    # a space separates two numbers only when the first has no spaces of its own
    separator = (
        pl.when(phone.str.contains(" ")).then(pl.lit("/")).otherwise(_pick(SEPARATORS, u[4]))
    )
    return frame.select(
        pl.col("客户编号", "姓名", "性别"),
        _dates("出生日期", u[0], serial=0.05, chinese=0.2, month=0.0).alias("出生日期"),
        pl.when(u[1] < ID_PLACEHOLDER)
        .then(_pick(PLACEHOLDERS, u[11]))
        .otherwise(pl.col("身份证号"))
        .alias("身份证号"),
        pl.when(u[3] < PHONE_PLACEHOLDER)
        .then(_pick(PLACEHOLDERS, u[11]))
        .when(u[3] < PHONE_PLACEHOLDER + PHONE_TWO)
        .then(pl.concat_str(phone, separator, second))
        .otherwise(phone)
        .alias("手机号"),
        pl.when(pl.col("邮箱").is_null() & (u[5] < EMAIL_PLACEHOLDER / 0.15))
        .then(_pick(PLACEHOLDERS, u[11]))
        .otherwise(pl.col("邮箱"))
        .alias("邮箱"),
        pl.col("地址", "银行卡号"),
        _dates("注册日期", u[6], serial=0.3, chinese=0.15, month=0.05).alias("注册日期"),
        pl.col("偏好产品", "购买频率"),
        _pick(TIERS, u[7]).alias("会员等级"),
        pl.concat_str(
            pl.lit("门店"), ((u[8] * 12).floor() + 1).cast(pl.Int64).cast(pl.String).str.zfill(2)
        ).alias("门店"),
        _pick(REMARKS, u[9]).alias("备注"),
        _pick(CHANNELS, u[10]).alias("渠道"),
    )
