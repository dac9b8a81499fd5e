"""Orders and customer-service notes: referential integrity and consistency."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from dealvault.synth import NOTE_COLUMNS, ORDER_COLUMNS, TableBatch, generate_tables, vocab


def share(flags: pl.Series) -> float:
    """Fraction of true values in a boolean Series."""
    return float(flags.cast(pl.Float64).sum()) / max(len(flags), 1)


def test_order_columns(sample: TableBatch) -> None:
    assert sample.orders.columns == list(ORDER_COLUMNS)
    assert ORDER_COLUMNS == ("订单号", "客户编号", "下单时间", "产品名称", "数量", "金额")


def test_orders_reference_customers(sample: TableBatch) -> None:
    known = set(sample.customers["客户编号"])
    assert set(sample.orders["客户编号"].unique()) <= known
    assert sample.orders["订单号"].n_unique() == sample.orders.height
    assert sample.orders["订单号"].str.contains(r"^DD\d{17}$").all()


def test_order_counts_mean(sample: TableBatch) -> None:
    mean = sample.orders.height / sample.customers.height
    assert 2.85 < mean < 3.15
    with_orders = sample.orders["客户编号"].n_unique() / sample.customers.height
    assert 0.7 < with_orders < 0.95  # some customers never ordered


def test_order_amounts_consistent(sample: TableBatch) -> None:
    price = {f"{c} {s}": Decimal(p) / 100 for c, s, p, _ in vocab.PRODUCTS}
    for product, qty, amount in sample.orders.select("产品名称", "数量", "金额").head(5000).rows():
        assert amount == price[product] * qty
        assert amount.as_tuple().exponent == -2
    assert sample.orders["数量"].min() == 1


def test_orders_after_registration(sample: TableBatch) -> None:
    joined = sample.orders.join(sample.customers, on="客户编号")
    assert (joined["下单时间"].dt.date() >= joined["注册日期"]).all()
    assert (joined["订单号"].str.slice(2, 8) == joined["下单时间"].dt.strftime("%Y%m%d")).all()


def test_orders_sorted_per_customer(sample: TableBatch) -> None:
    o = sample.orders
    assert o.equals(o.sort("客户编号", "下单时间", maintain_order=True))


def test_notes_reference_customers_and_contain_pii(sample: TableBatch) -> None:
    notes = sample.notes
    assert notes.columns == list(NOTE_COLUMNS)
    assert 0.45 < notes.height / sample.customers.height < 0.55
    joined = notes.join(sample.customers, on="客户编号")
    assert joined.height == notes.height
    assert (joined["记录时间"].dt.date() >= joined["注册日期"]).all()
    text = joined["备注"]
    digits_only = text.str.replace_all(r"[ \-]", "")
    mobile = joined["手机号"].str.replace_all(r"\D", "").str.slice(-11)
    has_phone = pl.Series([m in t for m, t in zip(mobile, digits_only, strict=True)])
    has_id = pl.Series([i in t for i, t in zip(joined["身份证号"], text, strict=True)])
    has_email = text.str.contains(r"[a-z0-9.]+@[a-z0-9.]+")
    assert 0.16 < share(has_phone) < 0.24
    assert 0.03 < share(has_id) < 0.07
    assert 0.03 < share(has_email) < 0.07
    assert text.str.ends_with("。").all()


def test_means_are_configurable() -> None:
    batches = list(
        generate_tables(rows=10_000, seed=2, orders_per_customer=0.5, notes_per_customer=2.0)
    )
    orders = sum(b.orders.height for b in batches)
    notes = sum(b.notes.height for b in batches)
    assert 0.4 < orders / 10_000 < 0.6
    assert 1.85 < notes / 10_000 < 2.15


def test_tables_selection_skips_work() -> None:
    (batch,) = generate_tables(rows=100, seed=1, tables=("customers",))
    assert batch.customers.height == 100
    assert batch.orders.is_empty() and batch.notes.is_empty()
    assert batch.orders.columns == list(ORDER_COLUMNS)
