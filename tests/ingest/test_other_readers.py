"""XLSX, Parquet, JSONL and SQL readers."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter

from dealvault.errors import InputError
from dealvault.ingest.readers import SourceSpec, open_source


def rows_of(spec: SourceSpec) -> tuple[list[dict[str, str | None]], list[int]]:
    with open_source(spec=spec) as src:
        out: list[dict[str, str | None]] = []
        firsts = []
        for b in src.batches():
            assert all(t == pa.string() for t in b.data.schema.types)
            firsts.append(b.first_row)
            out += b.data.to_pylist()
        return out, firsts


def test_xlsx_first_sheet_as_text(tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("客户")
    ws.write_row(0, 0, ["姓名", "生日", "金额", "手机号"])
    datefmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for i in range(1, 6):
        ws.write_string(i, 0, f"张{i}")
        ws.write_datetime(i, 1, dt.datetime(1990, 1, i), datefmt)
        ws.write_number(i, 2, 10.5 * i)
        ws.write_string(i, 3, f"1380000000{i}")
    wb.add_worksheet("other").write_row(0, 0, ["x"])
    wb.close()
    rows, firsts = rows_of(SourceSpec(path=path, batch_rows=2))
    assert firsts == [1, 3, 5]
    assert rows[0] == {"姓名": "张1", "生日": "1990-01-01", "金额": "10.5", "手机号": "13800000001"}
    other, _ = rows_of(SourceSpec(path=path, sheet="other"))
    assert other == []
    with pytest.raises(InputError, match="no sheet named"):
        open_source(spec=SourceSpec(path=path, sheet="missing"))


def test_xlsx_duplicate_empty_and_internal_headers(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["a", "b", "a", None, "record_id", "token"])
    ws.write_row(1, 0, ["1", "2", "3", "4", "5", "6"])
    wb.close()
    rows, _ = rows_of(SourceSpec(path=path))
    names = ["a", "b", "a_2", "column_4", "record_id_src", "token_src"]
    assert rows == [dict(zip(names, "123456", strict=True))]
    with open_source(spec=SourceSpec(path=path)) as src:
        assert len(src.header_notes) == 4


def test_jsonl_parquet_and_sql_internal_names(tmp_path: Path) -> None:
    jl = tmp_path / "c.jsonl"
    jl.write_text('{"name": "a", "": "x", "subject_id": "s1", "__bi_phone": "p"}\n', "utf-8")
    rows, _ = rows_of(SourceSpec(path=jl))
    assert rows == [{"name": "a", "column_2": "x", "subject_id_src": "s1", "bi_phone_src": "p"}]
    pqf = tmp_path / "c.parquet"
    pq.write_table(pa.table({"__row": ["1"], "record_id": ["2"], "name": ["b"]}), pqf)
    rows, _ = rows_of(SourceSpec(path=pqf))
    assert rows == [{"row_src": "1", "record_id_src": "2", "name": "b"}]
    url = _sqlite(
        tmp_path / "d.db",
        "create table t (x text, subject_id text)",
        "insert into t values ('1', '2')",
    )
    spec = SourceSpec(url=url, query="select x, x, subject_id from t")
    rows, _ = rows_of(spec)
    assert rows == [{"x": "1", "x_2": "1", "subject_id_src": "2"}]


def test_parquet_cast_to_text(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["张三", None, "王五"],
            "born": pa.array([dt.date(1990, 1, 2), None, dt.date(2000, 12, 31)]),
            "at": pa.array([dt.datetime(2020, 1, 2, 3, 4, 5)] * 3, pa.timestamp("us")),
            "amt": pa.array([Decimal("1.50"), Decimal("2"), None], pa.decimal128(10, 2)),
            "ok": [True, False, None],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    rows, firsts = rows_of(SourceSpec(path=path, batch_rows=2))
    assert firsts == [1, 3]
    assert rows[0] == {
        "id": "1",
        "name": "张三",
        "born": "1990-01-02",
        "at": "2020-01-02T03:04:05",
        "amt": "1.50",
        "ok": "true",
    }
    assert rows[1]["name"] is None and rows[1]["born"] is None


def test_parquet_nested_column_rejected(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"a": [1], "tags": [["x", "y"]]}), path)
    with pytest.raises(InputError, match="unsupported column type") as ei:
        open_source(spec=SourceSpec(path=path))
    assert ei.value.column == "tags" and "n.parquet" in str(ei.value)


def test_jsonl_reader(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    lines = [
        '{"name": "张三", "phone": "13800000001", "n": 3, "x": 1.50}',
        "",
        '{"name": "李四", "phone": null, "n": 4, "x": true}',
        '{"name": "", "phone": "13800000003"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows, firsts = rows_of(SourceSpec(path=path, batch_rows=2))
    assert firsts == [1, 3]
    assert rows[0] == {"name": "张三", "phone": "13800000001", "n": "3", "x": "1.50"}
    assert rows[1]["x"] == "true" and rows[2] == {
        "name": None,
        "phone": "13800000003",
        "n": None,
        "x": None,
    }


@pytest.mark.parametrize(
    ("line", "reason", "column"),
    [
        ('{"name": "SECRETJ", ', "invalid JSON", None),
        ('["SECRETJ"]', "not a JSON object", None),
        ('{"name": {"v": "SECRETJ"}}', "nested value", "name"),
    ],
)
def test_jsonl_bad_lines(tmp_path: Path, line: str, reason: str, column: str | None) -> None:
    _bad_jsonl(tmp_path, line, reason, column)


DEEP = 200_000  # far beyond the parser's recursion limit


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ('{"name": "SECRETJ", "tags": ' + "[" * DEEP + '"SECRETJ"' + "]" * DEEP + "}", "tags"),
        ('{"n": 1.5, "备注": ' + '{"a":' * DEEP + '"SECRETJ"' + "}" * DEEP + "}", "备注"),
        ('{"x": "a\\"[{", "deep": ' + "[" * DEEP + "]" * DEEP + "}", "deep"),
        ("[" * DEEP + '"SECRETJ"' + "]" * DEEP, None),  # not even an object
        ('{"name": "SECRETJ", "t": ' + "[" * DEEP, "t"),  # deep and cut off
    ],
)
def test_jsonl_very_deep_nesting(tmp_path: Path, line: str, column: str | None) -> None:
    _bad_jsonl(tmp_path, line, "too deep to read", column)


def _bad_jsonl(tmp_path: Path, line: str, reason: str, column: str | None) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"name": "a"}\n{"name": "b"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as ei, open_source(spec=SourceSpec(path=path)) as src:
        list(src.batches())
    msg = str(ei.value)
    assert reason in msg and "b.jsonl" in msg and "row 3" in msg and "SECRETJ" not in msg
    assert ei.value.column == column


def test_sql_reader_streams_and_hides_password(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    con = sqlite3.connect(db)
    con.execute("create table c (id integer, name text, born date, amt real, blob blob)")
    con.executemany(
        "insert into c values (?, ?, ?, ?, ?)",
        [(i, f"名{i}", "1990-01-02", i * 1.5, None) for i in range(1, 8)],
    )
    con.commit()
    con.close()
    url = f"sqlite:///{db}"
    query = "select id, name, born, amt from c where name like '名%' order by id"
    rows, firsts = rows_of(SourceSpec(url=url, query=query, batch_rows=3))
    assert firsts == [1, 4, 7]
    assert rows[0] == {"id": "1", "name": "名1", "born": "1990-01-02", "amt": "1.5"}
    with open_source(spec=SourceSpec(url=url, query=query)) as src:
        assert src.name == "sql query"
        assert (
            src.content_hash == "sha256:" + hashlib.sha256(f"{url}\n{query}".encode()).hexdigest()
        )
    with pytest.raises(InputError) as ei:
        open_source(spec=SourceSpec(url="postgresql://u:SECRETPW@127.0.0.1:1/x", query="select 1"))
    assert "SECRETPW" not in str(ei.value)
    with pytest.raises(InputError, match="query could not be run"):
        open_source(spec=SourceSpec(url=url, query="select * from missing"))


def _sqlite(db: Path, *statements: str) -> str:
    """A SQLite file made by ``statements``; its SQLAlchemy URL."""
    con = sqlite3.connect(db)
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()
    return f"sqlite:///{db}"


def test_sql_binary_column_rejected(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "b.db", "create table t (b blob)", "insert into t values (x'00ff')")
    with pytest.raises(InputError, match="unsupported column type") as ei:
        rows_of(SourceSpec(url=url, query="select b from t"))
    assert ei.value.column == "b" and ei.value.row == 1


def test_format_sniffing_without_extension(tmp_path: Path) -> None:
    p = tmp_path / "data"
    pq.write_table(pa.table({"a": ["1"]}), p)
    with open_source(spec=SourceSpec(path=p)) as src:
        assert src.fmt == "parquet"
    j = tmp_path / "data2"
    j.write_text('{"a": "1"}\n', encoding="utf-8")
    with open_source(spec=SourceSpec(path=j)) as src:
        assert src.fmt == "jsonl"
    with pytest.raises(InputError, match="file not found"):
        open_source(spec=SourceSpec(path=tmp_path / "nope.csv"))
