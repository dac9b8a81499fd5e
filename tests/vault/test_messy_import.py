"""Real-world exports through the whole import: placeholders, two phones in one cell."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xlsxwriter
from sqlalchemy import select

from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.deidentify.masking import mask_field
from dealvault.flows import inventory
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose
from dealvault.synth import export_tables
from dealvault.transfer.records import package_schema
from dealvault.vault.models import BlindIndex, Dataset
from tests.conftest import P, World
from tests.vault.helpers import HEADERS, customer_row, do_import, lookup, write_csv

SECOND = "手机号 (2nd number)"
ALL = ["identity", "contact", "transaction", "preference", "sensitive", "free_text"]


def _release(stores: AppStores, keyring: KeyRing, world: World, level: Level) -> pl.DataFrame:
    """What the steward would release to Bidder A at ``level``."""
    request = DisclosureRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        level=level,
        purpose="test",
        recipient="Bidder A",
        seed=1,
    )
    return disclose(stores, keyring, request=request).frame


def _import_messy(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    rows = [customer_row(i) for i in range(1, 13)]
    rows[0]["手机号"] = "13900000001/13700000001"  # two contact points
    rows[1]["手机号"] = "13900000002， 010-62345678"
    rows[2]["手机号"] = "无"  # placeholder, the customer keeps name and ID
    rows[3]["邮箱"] = "暂无"
    rows[4]["出生日期"] = "不详"
    rows[5]["身份证号"] = "N/A"
    path = write_csv(tmp_path / "messy.csv", rows)
    summary = do_import(
        stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path
    )
    assert (summary.rows_read, summary.rows_imported, summary.rows_rejected) == (12, 12, 0)


def test_both_numbers_of_a_cell_find_the_customer(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import_messy(stores, keyring, world, tmp_path)
    first = lookup(stores, keyring, world, "13900000001")
    second = lookup(stores, keyring, world, "137-0000-0001")
    assert [v.subject_id for v in first] == [v.subject_id for v in second]
    assert len(first) == 1
    contact = second[0].data["contact"]
    assert (contact["phone"], contact["phone_2"]) == ("+8613900000001", "+8613700000001")
    landline = lookup(stores, keyring, world, "(010) 6234 5678")
    assert landline[0].data["contact"]["phone"] == "+8613900000002"
    # one blind row per number: two for each of the two customers, one for the others
    with stores.records_session() as s:
        phones = s.scalars(select(BlindIndex.value).where(BlindIndex.field == 2)).all()
    assert len(phones) == 11 + 2  # customer 3 has none ("无"), customers 1 and 2 two each
    placeholder = lookup(stores, keyring, world, "13900000004", categories=["contact"])
    assert placeholder[0].data["contact"]["email"] is None


def test_second_numbers_are_a_listed_masked_column(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import_messy(stores, keyring, world, tmp_path)
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    cols = {c.column: c for c in inv.columns}
    assert cols[SECOND].field == "phone_2" and cols[SECOND].category == "contact"
    assert cols[SECOND].pii_type == cols["手机号"].pii_type == "cn_mobile"
    assert cols[SECOND].fill_rate == round(2 / 12, 4)
    masked = _release(stores, keyring, world, Level.MASKED)
    shown = {v for v in masked.get_column("phone_2").to_list() if v is not None}
    assert shown == {mask_field("phone", "+8613700000001"), mask_field("phone", "+861062345678")}
    assert "137****0001" in shown
    # the transfer package lists the column, so its stored values decode against the schema
    with stores.unit_of_work() as uow:
        ds = uow.records.scalars(select(Dataset)).one()
        schema = package_schema(uow, dataset=ds, categories=["contact"])
        assert "phone_2" in [c.name for c in schema.columns]


def test_a_later_row_with_a_customers_second_number_is_merged(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import_messy(stores, keyring, world, tmp_path)
    later = [customer_row(40, 身份证号="", 手机号="13700000001", 邮箱="late@example.com")]
    s2 = do_import(
        stores,
        keyring,
        write_csv(tmp_path / "later.csv", later),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    assert (s2.rows_imported, s2.rows_merged) == (0, 1)


def test_rows_without_second_numbers_add_no_column(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "plain.csv", [customer_row(i) for i in range(1, 4)])
    do_import(stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    assert SECOND not in {c.column for c in inv.columns}
    view = lookup(stores, keyring, world, "13900000001", categories=["contact"])[0]
    assert "phone_2" not in view.data["contact"]


def test_an_excel_workbook_with_serial_dates(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "crm.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["姓名", "手机号", "出生日期", "注册日期"])
    for i in range(1, 21):
        ws.write_string(i, 0, f"测试{i}")
        ws.write_string(i, 1, f"1390000{i:04d}")
        ws.write_string(i, 2, "1985年3月" if i % 2 else "1985年03月12日")
        ws.write_number(i, 3, 45321 if i % 2 else 44927.5)  # a number cell, no date format
    wb.close()
    summary = do_import(
        stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path
    )
    assert (summary.rows_imported, summary.rows_rejected) == (20, 0)
    one = lookup(stores, keyring, world, "13900000001")[0].data
    two = lookup(stores, keyring, world, "13900000002")[0].data
    assert (one["identity"]["birth_date"], one["preference"]["registered_at"]) == (
        "1985-03-01",
        "2024-01-30",
    )
    assert (two["identity"]["birth_date"], two["preference"]["registered_at"]) == (
        "1985-03-12",
        "2023-01-01",
    )
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    cols = {c.column: c for c in inv.columns}
    assert cols["注册日期"].pii_type in {"date", "datetime"}  # half of them carry a time
    assert cols["出生日期"].pii_type == "date_of_birth"


def test_a_membership_tier_is_stored_and_released_as_a_category(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    tiers = ["普通会员", "银卡", "金卡", "钻石会员"]
    rows = [customer_row(i, 会员等级=tiers[i % 4]) for i in range(1, 41)]
    path = write_csv(tmp_path / "tiers.csv", rows, headers=[*HEADERS, "会员等级"])
    do_import(stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    tier = {c.column: c for c in inv.columns}["会员等级"]
    assert (tier.pii_type, tier.category, tier.field) == ("label", "preference", None)
    view = lookup(stores, keyring, world, "13900000002")[0]
    assert view.data["preference"]["会员等级"] == tiers[2]
    assert "会员等级" not in view.data.get("free_text", {})
    masked = _release(stores, keyring, world, Level.MASKED)
    assert set(tiers) <= set(masked.get_column("会员等级").to_list())  # released as it is


def test_headers_named_like_internal_columns_import_and_read_back(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    extra = ["subject_id", "record_id", "token", "__row", "", "姓名"]
    headers = [*HEADERS, *extra]
    path = tmp_path / "internal.csv"
    lines = [",".join(headers)]
    for i in range(1, 13):
        row = customer_row(i)
        values = [row[h] for h in HEADERS] + [f"S{i}", f"R{i}", f"T{i}", str(i), "x", "dup"]
        lines.append(",".join(values))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = do_import(
        stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path
    )
    assert (summary.rows_imported, summary.rows_rejected) == (12, 0)
    renamed = ["subject_id_src", "record_id_src", "token_src", "row_src", "column_15", "姓名_2"]
    assert list(summary.mapping)[-6:] == renamed
    assert len(summary.notes) == 6 and "renamed 'subject_id_src'" in summary.notes[0]
    # every later read of the dataset works and keeps the source values
    view = lookup(stores, keyring, world, "13900000003")[0]
    stored = {k: v for cat in view.data.values() for k, v in cat.items()}
    assert view.subject_id != "S3"
    assert (stored["subject_id_src"], stored["record_id_src"], stored["token_src"]) == (
        "S3",
        "R3",
        "T3",
    )
    assert (stored["row_src"], stored["column_15"], stored["姓名_2"]) == ("3", "x", "dup")
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    assert set(renamed) <= {c.column for c in inv.columns}
    for level in (Level.MASKED, Level.PSEUDONYMIZED):
        frame = _release(stores, keyring, world, level)
        assert frame.columns.count("token") == 1
        assert "subject_id" not in frame.columns and "record_id" not in frame.columns
        assert "S3" not in frame.get_column("token").to_list()
    with stores.unit_of_work() as uow:
        ds = uow.records.scalars(select(Dataset)).one()
        names = [c.name for c in package_schema(uow, dataset=ds, categories=ALL).columns]
    assert "subject_id_src" in names and "subject_id" not in names


def test_a_messy_synthetic_export_imports_whole(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    out = export_tables(
        out_dir=tmp_path / "x", rows=1_000, seed=4, fmt="csv", tables=["customers"], messy=True
    )
    summary = do_import(
        stores,
        keyring,
        out["customers"].path,
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    assert (summary.rows_read, summary.rows_rejected) == (1_000, 0)
    assert summary.rows_imported + summary.rows_merged == 1_000
    assert summary.notes == [
        "column 14 has no header: named 'column_14'",
        "column 16 header '备注' repeats an earlier one: renamed '备注_2'",
    ]
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    cols = {c.column: c for c in inv.columns}
    assert (cols["会员等级"].pii_type, cols["会员等级"].category) == ("label", "preference")
    assert cols["column_14"].pii_type == "label"  # 门店01 … 门店12, no header
    assert cols["备注_2"].pii_type == "free_text"  # the header says remarks
    assert cols["注册日期"].field == "registered_at" and cols["注册日期"].pii_type == "date"
    assert cols[SECOND].field == "phone_2" and 0.03 < cols[SECOND].fill_rate < 0.08
