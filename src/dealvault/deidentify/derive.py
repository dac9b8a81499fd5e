"""Derived analysis columns: age, age band, region code and names, per-customer order summaries."""

from __future__ import annotations

from datetime import date
from typing import Final

import polars as pl

from dealvault.deidentify.generalise import age_bands, age_years, region_codes, region_names

#: Columns this module adds (when their sources are present).
DERIVED: Final = (
    "age",
    "age_band",
    "region_code",
    "province",
    "city",
    "district",
    "order_count",
    "total_amount",
    "first_order",
    "last_order",
)


def _text(frame: pl.DataFrame, column: str) -> pl.Series | None:
    return frame.get_column(column).cast(pl.String) if column in frame.columns else None


def add_derived(
    customers: pl.DataFrame, *, orders: pl.DataFrame | None = None, on: date
) -> pl.DataFrame:
    """``customers`` plus age, age band, region and order summaries (one row per customer).

    Age comes from the birth date, else from the ID number; the region from the address, else
    from the ID number's registration code (the birthplace, not the residence; see docs).
    """
    births, ids, addresses = (_text(customers, c) for c in ("birth_date", "id_number", "address"))
    added: list[pl.Series] = []
    if births is not None or ids is not None:
        ages = age_years(birth_dates=births, id_numbers=ids, on=on).alias("age")
        added += [ages, age_bands(ages, width=10, top=80).alias("age_band")]
    if addresses is not None or ids is not None:
        codes = region_codes(addresses=addresses, id_numbers=ids).alias("region_code")
        added.append(codes)
        added += [
            region_names(codes, level=level).alias(level)
            for level in ("province", "city", "district")
        ]
    out = customers.with_columns(added) if added else customers
    if orders is not None:
        out = out.join(order_summary(orders), on="subject_id", how="left").with_columns(
            pl.col("order_count").fill_null(0)
        )
    return out


def order_summary(orders: pl.DataFrame) -> pl.DataFrame:
    """Per customer: number of orders, total amount, first and last order date."""
    exprs: list[pl.Expr] = [pl.len().cast(pl.Int64).alias("order_count")]
    if "amount" in orders.columns:
        exprs.append(
            pl.col("amount").cast(pl.Float64, strict=False).sum().round(2).alias("total_amount")
        )
    if "order_time" in orders.columns:
        day = pl.col("order_time").cast(pl.String).str.slice(0, 10)
        exprs += [day.min().alias("first_order"), day.max().alias("last_order")]
    keyed = orders.with_columns(pl.col("subject_id").cast(pl.String))  # empty reads: Null
    return keyed.group_by("subject_id").agg(exprs)


def with_customer_attributes(rows: pl.DataFrame, *, customers: pl.DataFrame) -> pl.DataFrame:
    """Child-table rows (orders, notes) with the derived attributes of their customer."""
    wanted = [c for c in ("age", "age_band", "gender", "province", "city") if c in customers]
    if not wanted:
        return rows
    return rows.join(
        customers.select("subject_id", *wanted), on="subject_id", how="left", suffix="_customer"
    )
