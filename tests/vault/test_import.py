"""Import: encrypted storage, merging, re-import detection, rejects, atomicity, child tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.models import CustomerKeyBlock
from dealvault.errors import Conflict, Forbidden, InputError
from dealvault.flows import customers
from dealvault.flows.context import AppStores
from dealvault.vault.models import ChildRecord, CustomerRecord, ImportRun
from tests.conftest import P, World
from tests.vault.helpers import HEADERS, customer_row, do_import, lookup, ric, write_csv


def _counts(stores: AppStores) -> tuple[int, int, int, int]:
    with stores.records_session() as s, stores.keystore_sessions() as ks:
        return (
            s.scalar(select(func.count()).select_from(CustomerRecord)) or 0,
            s.scalar(select(func.count()).select_from(ChildRecord)) or 0,
            s.scalar(select(func.count()).select_from(ImportRun)) or 0,
            ks.scalar(select(func.coalesce(func.sum(CustomerKeyBlock.entries), 0))) or 0,
        )


def test_import_encrypts_and_lookup_reads(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [customer_row(i) for i in range(1, 21)]
    path = write_csv(tmp_path / "customers.csv", rows)
    summary = do_import(
        stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path / "rej"
    )
    assert (summary.rows_read, summary.rows_imported, summary.rows_rejected) == (20, 20, 0)
    assert summary.mapping["手机号"] == "phone" and summary.mapping["身份证号"] == "id_number"
    assert _counts(stores)[0] == 20 and _counts(stores)[3] == 20
    # nothing personal is stored in the clear
    with stores.records_session() as s:
        rec = s.scalars(select(CustomerRecord)).first()
        assert rec is not None
        blob = b"".join(
            getattr(rec, c) or b"" for c in ("enc_identity", "enc_contact", "enc_sensitive")
        )
        assert "测试".encode() not in blob and b"13900000001" not in blob
        assert len(rec.subject_id) == 24
    views = lookup(stores, keyring, world, "139-0000-0007")
    assert len(views) == 1
    v = views[0]
    assert v.data["contact"]["phone"] == "+8613900000007"
    assert v.data["identity"]["name"] == rows[6]["姓名"]
    assert v.data["sensitive"]["id_number"] == rows[6]["身份证号"]
    by_id = lookup(
        stores, keyring, world, rows[6]["身份证号"].lower(), by="id_number", categories=["contact"]
    )
    assert [x.subject_id for x in by_id] == [v.subject_id]
    assert set(by_id[0].data) == {"contact"}  # decryption by category


def test_bidder_is_denied_by_the_read_path(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(1)])
    do_import(stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    with pytest.raises(Forbidden, match="no data at stage preparation"):
        customers.lookup(
            stores,
            keyring,
            actor=P(world.bidder_person),
            deal=world.deal,
            dataset="crm",
            by="phone",
            value="13900000001",
            categories=None,
            purpose="curious",
        )
    with pytest.raises(Forbidden):
        do_import(
            stores,
            keyring,
            path,
            actor=P(world.bidder_person),
            deal=world.deal,
            rejects_dir=tmp_path,
            allow_reimport=True,
        )


def test_duplicates_are_merged_by_blind_index(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [
        customer_row(1),
        customer_row(2),
        customer_row(1, 邮箱="", 地址="上海市浦东新区某路2号"),
    ]
    rows[0]["邮箱"] = ""  # the first occurrence lacks the e-mail, the later one fills it
    rows[2]["邮箱"] = "late@example.com"
    s1 = do_import(
        stores,
        keyring,
        write_csv(tmp_path / "a.csv", rows),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    assert (s1.rows_imported, s1.rows_merged) == (2, 1)
    v = lookup(stores, keyring, world, "13900000001", categories=["contact"])[0]
    assert v.data["contact"]["email"] == "late@example.com"
    assert v.data["contact"]["address"] == "北京市朝阳区测试路1号"  # first value wins
    # a later import: same customer by phone only (no ID), new one too
    later = [customer_row(2, 身份证号=""), customer_row(3)]
    s2 = do_import(
        stores,
        keyring,
        write_csv(tmp_path / "b.csv", later),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    assert (s2.rows_imported, s2.rows_merged) == (1, 1)
    assert _counts(stores)[0] == 3


def test_reimport_is_detected(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [customer_row(1)])
    do_import(stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    with pytest.raises(Conflict, match="already imported"):
        do_import(
            stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path
        )
    again = do_import(
        stores,
        keyring,
        path,
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
        allow_reimport=True,
    )
    assert (again.rows_imported, again.rows_merged) == (0, 1)


def test_invalid_rows_go_to_an_encrypted_reject_file(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    bad_id = ric()[:-1] + ("0" if ric()[-1] != "0" else "1")
    rows = [customer_row(1), customer_row(2, 身份证号=bad_id), customer_row(3, 手机号="12345")]
    summary = do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", rows),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path / "rej",
    )
    assert (summary.rows_imported, summary.rows_rejected) == (1, 2)
    assert summary.reject_file is not None
    raw = Path(summary.reject_file).read_bytes()
    assert bad_id.encode() not in raw and b"12345" not in raw  # encrypted
    frame = customers.read_import_rejects(
        stores, keyring, actor=P(world.steward), deal=world.deal, import_id=summary.import_id
    )
    got = sorted(zip(frame["row"].to_list(), frame["column"].to_list(), strict=True))
    assert got == [(2, "身份证号"), (3, "手机号")]
    for reason in frame["reason"].to_list():
        assert bad_id not in reason and "12345" not in reason
    assert bad_id in frame.filter(frame["row"] == 2)["values"][0]  # the steward can fix it


def test_strict_import_writes_nothing(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [customer_row(i) for i in range(1, 10)] + [customer_row(10, 手机号="12345")]
    before = _counts(stores)
    with pytest.raises(InputError) as err:
        do_import(
            stores,
            keyring,
            write_csv(tmp_path / "c.csv", rows),
            actor=P(world.steward),
            deal=world.deal,
            rejects_dir=tmp_path / "rej",
            strict=True,
        )
    msg = str(err.value)
    assert "c.csv" in msg and "row 10" in msg and "手机号" in msg and "12345" not in msg
    assert _counts(stores) == before
    assert not list((tmp_path / "rej").glob("*")) if (tmp_path / "rej").exists() else True


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty"),
        ("ragged.csv", ("客户编号,姓名,手机号\nC1,张三,13900000001\nC2,李四\n").encode(), "row 2"),
        ("dups.csv", ("姓名,姓名\n张三,李四\n").encode(), "duplicate"),
        (
            "badutf8.csv",
            ("姓名,手机号\n" + "张三,13900000001\n" * 20000).encode("utf-8") + b"\xe5\xbc,1\n",
            "row 20001",
        ),
        ("fake.xlsx", ("姓名,手机号\n张三,13900000001\n").encode(), "not an XLSX"),
        ("fake.parquet", b"PAR0 not parquet", "not Parquet"),
    ],
)
def test_malformed_inputs_fail_clearly_and_write_nothing(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    name: str,
    content: bytes,
    expected: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = _counts(stores)
    with pytest.raises(InputError) as err:
        do_import(
            stores,
            keyring,
            path,
            actor=P(world.steward),
            deal=world.deal,
            rejects_dir=tmp_path / "rej",
        )
    assert name in str(err.value) and expected in str(err.value)
    assert "13900000001" not in str(err.value) and "张三" not in str(err.value)
    assert _counts(stores) == before


def test_gbk_round_trip(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    rows = [customer_row(i, 地址="广东省深圳市南山区科技园路8号") for i in range(1, 4)]
    path = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    summary = do_import(
        stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path
    )
    assert summary.encoding in ("gbk", "gb18030")
    v = lookup(stores, keyring, world, "13900000002")[0]
    assert v.data["contact"]["address"] == "广东省深圳市南山区科技园路8号"
    assert v.data["identity"]["name"] == rows[1]["姓名"]


def test_child_tables_are_encrypted_under_the_customer_key(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "c.csv", [customer_row(1), customer_row(2)]),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    orders = [
        {
            "订单号": "D1",
            "客户编号": "C000001",
            "下单时间": "2024-01-02 10:00:00",
            "产品名称": "洗衣液 2kg",
            "数量": "2",
            "金额": "59.80",
        },
        {
            "订单号": "D2",
            "客户编号": "C000001",
            "下单时间": "2024-02-02 10:00:00",
            "产品名称": "洁厕灵",
            "数量": "1",
            "金额": "12.50",
        },
        {
            "订单号": "D3",
            "客户编号": "C999999",
            "下单时间": "2024-02-02 10:00:00",
            "产品名称": "洁厕灵",
            "数量": "1",
            "金额": "12.50",
        },
    ]
    s = do_import(
        stores,
        keyring,
        write_csv(tmp_path / "orders.csv", orders, headers=list(orders[0])),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    assert (s.role, s.rows_imported, s.rows_rejected) == ("orders", 2, 1)
    v = lookup(stores, keyring, world, "C000001", by="customer_key", categories=["transaction"])[0]
    assert [o["order_id"] for o in v.children["orders"]] == ["D1", "D2"]
    assert v.children["orders"][0]["amount"] in ("59.80", "59.8")


def test_other_formats(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    import polars as pl

    rows = [customer_row(i) for i in range(1, 6)]
    frame = pl.DataFrame(rows)
    frame.write_parquet(tmp_path / "c.parquet")
    frame.write_ndjson(tmp_path / "c.jsonl")
    frame.write_excel(tmp_path / "c.xlsx")
    for i, name in enumerate(("c.parquet", "c.jsonl", "c.xlsx")):
        s = do_import(
            stores,
            keyring,
            tmp_path / name,
            actor=P(world.steward),
            deal=world.deal,
            rejects_dir=tmp_path,
            dataset=f"ds{i}",
        )
        assert (s.rows_imported, s.rows_rejected) == (5, 0), name
    assert HEADERS[0] == "客户编号"


def test_import_from_a_sql_query(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    import sqlite3

    from dealvault.flows.importing import ImportRequest, import_source
    from dealvault.ingest.readers import SourceSpec

    src = tmp_path / "crm.sqlite"
    with sqlite3.connect(src) as conn:
        conn.execute("CREATE TABLE kunden (客户编号 TEXT, 姓名 TEXT, 手机号 TEXT, 身份证号 TEXT)")
        conn.executemany(
            "INSERT INTO kunden VALUES (?, ?, ?, ?)",
            [(f"C{i}", "测试", f"1390000{i:04d}", ric(seq=f"{i:03d}")) for i in range(1, 8)],
        )
    req = ImportRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        spec=SourceSpec(
            url=f"sqlite:///{src}", query="SELECT * FROM kunden WHERE 客户编号 != 'C7'"
        ),
    )
    summary = import_source(stores, keyring, request=req, rejects_dir=tmp_path)
    assert (summary.fmt, summary.rows_imported) == ("sql", 6)
    v = lookup(stores, keyring, world, "13900000003", categories=["sensitive"])[0]
    assert v.data["sensitive"]["id_number"] == ric(seq="003")
