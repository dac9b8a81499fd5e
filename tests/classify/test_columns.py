"""Column classifier: synth exports with and without headers, typed columns, evidence."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from dealvault.classify.columns import ColumnClass, classify_column, classify_frame
from dealvault.errors import Invalid
from dealvault.ingest.fields import Category
from dealvault.synth import DEFAULT_AS_OF, TableBatch, generate_tables

EXPECTED = {
    "客户编号": ("customer_id", Category.IDENTITY, False, "customer_key"),
    "姓名": ("cn_name", Category.IDENTITY, False, "name"),
    "性别": ("gender", Category.IDENTITY, False, "gender"),
    "出生日期": ("date_of_birth", Category.IDENTITY, False, "birth_date"),
    "身份证号": ("cn_ric", Category.SENSITIVE, True, "id_number"),
    "手机号": ("cn_mobile", Category.CONTACT, False, "phone"),
    "邮箱": ("email", Category.CONTACT, False, "email"),
    "地址": ("cn_address", Category.CONTACT, False, "address"),
    "银行卡号": ("bank_card", Category.SENSITIVE, True, "bank_card"),
    "注册日期": ("date", Category.PREFERENCE, False, "registered_at"),
    "偏好产品": ("product", Category.PREFERENCE, False, "favourite_product"),
    "购买频率": ("frequency", Category.PREFERENCE, False, "purchase_frequency"),
    "订单号": ("order_id", Category.TRANSACTION, False, "order_id"),
    "下单时间": ("datetime", Category.TRANSACTION, False, "order_time"),
    "产品名称": ("product", Category.TRANSACTION, False, "product"),
    "数量": ("quantity", Category.TRANSACTION, False, "quantity"),
    "金额": ("amount", Category.TRANSACTION, False, "amount"),
    "记录时间": ("datetime", Category.FREE_TEXT, False, "note_time"),
    "备注": ("free_text", Category.FREE_TEXT, False, "note"),
}


@pytest.fixture(scope="module")
def export() -> TableBatch:
    return next(generate_tables(rows=3_000, seed=11, chunk_rows=3_000))


def _tables(export: TableBatch) -> list[pl.DataFrame]:
    return [export.customers, export.orders, export.notes]


def test_synth_export_with_chinese_headers(export: TableBatch) -> None:
    for frame in _tables(export):
        for col, got in classify_frame(frame=frame, today=DEFAULT_AS_OF).items():
            pii_type, category, sensitive, field = EXPECTED[col]
            assert (got.pii_type, got.category, got.sensitive, got.field) == (
                pii_type, category, sensitive, field,
            ), col  # fmt: skip
            assert got.confidence >= 0.9, col


@pytest.mark.parametrize("as_text", [False, True])
def test_synth_export_without_headers(export: TableBatch, as_text: bool) -> None:
    for frame in _tables(export):
        if as_text:
            frame = frame.with_columns(pl.col(pl.Date).dt.strftime("%Y-%m-%d")).cast(pl.String)
        for col in frame.columns:
            got = classify_column(name=None, values=frame[col], today=DEFAULT_AS_OF)
            assert got.pii_type == EXPECTED[col][0], col
            assert got.evidence["header"] == 0.0


def test_full_sample_agrees_with_default(export: TableBatch) -> None:
    frame = export.customers
    sampled = classify_frame(frame=frame, sample_size=500, today=DEFAULT_AS_OF)
    full = classify_frame(frame=frame, sample_size=frame.height, today=DEFAULT_AS_OF)
    assert {k: c.pii_type for k, c in sampled.items()} == {k: c.pii_type for k, c in full.items()}
    assert all(c.evidence["sample"] <= 500 for c in sampled.values())


def test_typed_columns() -> None:
    cases: list[tuple[pl.Series, str | None, str | None]] = [
        (pl.Series([Decimal("12.50"), Decimal("3.00")] * 20), None, "amount"),
        (pl.Series([12.5, 3.25, 99.0] * 20), "price", "amount"),
        (pl.Series([1, 2, 3, 1] * 20, dtype=pl.Int32), None, "quantity"),
        (pl.Series([1, 2, 3, 1] * 20), "客户编号", "customer_id"),  # header beats weak values
        (pl.Series([1, 2, 2, 1] * 20), "性别", "gender"),
        (pl.Series([13812345678 + i * 654_321 for i in range(50)]), None, "cn_mobile"),
        (pl.Series([date(1980 + i % 40, 1 + i % 12, 1 + i % 28) for i in range(60)]), None,
         "date_of_birth"),
        (pl.Series([date(2024, 1 + i % 12, 1 + i % 28) for i in range(60)]), None, "date"),
        (pl.Series([date(2024, 1, 1)] * 10).cast(pl.Datetime("ms")), "生日", "date_of_birth"),
        (pl.Series([date(2024, 1, 1)] * 10).cast(pl.Datetime("ms")).dt.offset_by("3h"),
         None, "datetime"),
        (pl.Series([True, False] * 5), "flag", None),
    ]  # fmt: skip
    for values, name, expected in cases:
        got = classify_column(name=name, values=values, today=DEFAULT_AS_OF)
        assert got.pii_type == expected, (name, values.dtype)


def test_empty_and_blank_columns() -> None:
    empty = classify_column(name=None, values=pl.Series([], dtype=pl.String))
    assert empty.pii_type is None and empty.confidence == 0.0
    blanks = classify_column(name="备注", values=pl.Series([None, "", "  "]))
    assert blanks.pii_type is None and blanks.evidence["fill_rate"] == 0.0
    assert classify_frame(frame=pl.DataFrame()) == {}


def test_sample_size_must_be_positive() -> None:
    with pytest.raises(Invalid):
        classify_column(name=None, values=pl.Series(["x"]), sample_size=0)


def test_evidence_holds_figures_never_values(export: TableBatch) -> None:
    frame = export.customers
    secrets = set(frame["邮箱"].drop_nulls().to_list()[:200]) | set(frame["姓名"].to_list()[:200])
    for col, got in classify_frame(frame=frame).items():
        assert isinstance(got, ColumnClass)
        assert all(isinstance(k, str) and isinstance(x, float) for k, x in got.evidence.items())
        text = repr(got)
        assert not any(s in text for s in secrets), col


def test_fill_rate_and_minor_share(export: TableBatch) -> None:
    got = classify_frame(frame=export.customers, today=DEFAULT_AS_OF)
    assert got["邮箱"].evidence["fill_rate"] == pytest.approx(0.85, abs=0.03)
    assert 0.0 < got["身份证号"].evidence["minor_share"] < 0.03  # synth: 1% under 14
    assert 0.0 < got["出生日期"].evidence["minor_share"] < 0.03
