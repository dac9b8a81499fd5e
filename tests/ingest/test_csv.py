"""CSV reader: encodings, delimiters, batching, quoting and malformed input."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dealvault.errors import InputError
from dealvault.ingest.readers import SourceSpec, open_source

ROWS = [
    ["C001", "张三", "13800000001", "北京市海淀区某路1号"],
    ["C002", "李四", "13800000002", "上海市浦东新区某街2号"],
    ["C003", "王五·阿里", "", "广州市天河区"],
]
HEADER = ["客户编号", "姓名", "手机号", "地址"]


def write_csv(path: Path, rows: list[list[str]], *, enc: str = "utf-8", delim: str = ",") -> Path:
    text = "\n".join(delim.join(r) for r in [HEADER, *rows]) + "\n"
    path.write_bytes(text.encode(enc))
    return path


def read_all(path: Path, **kw: object) -> tuple[list[dict[str, str | None]], object]:
    with open_source(spec=SourceSpec(path=path, **kw)) as src:  # type: ignore[arg-type]
        rows: list[dict[str, str | None]] = []
        for b in src.batches():
            assert all(t == pa.string() for t in b.data.schema.types)
            rows += b.data.to_pylist()
        return rows, src


@pytest.mark.parametrize(
    ("enc", "label"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gbk")]
)
def test_encoding_detection_round_trip(tmp_path: Path, enc: str, label: str) -> None:
    path = write_csv(tmp_path / "c.csv", ROWS, enc=enc)
    rows, src = read_all(path)
    assert src.encoding == label  # type: ignore[attr-defined]
    assert src.columns == HEADER  # type: ignore[attr-defined]
    assert [list(r.values()) for r in rows] == [[v or None for v in r] for r in ROWS]


def test_gb18030_needed_is_reported(tmp_path: Path) -> None:
    rows = [*ROWS, ["C004", "𠀀明", "13800000004", "成都"]]  # a character outside GBK
    path = write_csv(tmp_path / "c.csv", rows, enc="gb18030")
    got, src = read_all(path)
    assert src.encoding == "gb18030"  # type: ignore[attr-defined]
    assert got[3]["姓名"] == "𠀀明"


def test_gbk_upgrades_to_gb18030_after_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dealvault.ingest.csv_reader as mod

    monkeypatch.setattr(mod, "SAMPLE_BYTES", 64)
    rows = [*ROWS * 5, ["C009", "𠀀明", "13800000009", "成都"]]
    path = write_csv(tmp_path / "c.csv", rows, enc="gb18030")
    got, src = read_all(path)
    assert got[-1]["姓名"] == "𠀀明"
    assert src.encoding == "gb18030"  # type: ignore[attr-defined]


def test_gbk_decodes_to_same_strings_as_python(tmp_path: Path) -> None:
    text = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 3000) if chr(c).encode("gbk", "ignore"))
    rows = [[f"C{i}", text[i : i + 40], "1", "x"] for i in range(0, 2000, 7)]
    path = write_csv(tmp_path / "c.csv", rows, enc="gbk")
    got, _ = read_all(path, batch_rows=13)
    assert [r["姓名"] for r in got] == [r[1] for r in rows]


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_detection(tmp_path: Path, delim: str) -> None:
    path = write_csv(tmp_path / "c.txt", ROWS, delim=delim)
    rows, src = read_all(path)
    assert src.delimiter == delim  # type: ignore[attr-defined]
    assert rows[1]["地址"] == ROWS[1][3]


def test_batches_keep_row_numbers(tmp_path: Path) -> None:
    rows = [[f"C{i:04d}", f"名{i}", f"1380000{i:04d}", "x"] for i in range(1, 1001)]
    path = write_csv(tmp_path / "c.csv", rows)
    with open_source(spec=SourceSpec(path=path, batch_rows=64)) as src:
        batches = list(src.batches())
    assert [b.first_row for b in batches] == list(range(1, 1001, 64))
    assert all(b.data.num_rows == 64 for b in batches[:-1])
    for b in batches:
        assert b.data.column(0)[0].as_py() == f"C{b.first_row:04d}"
    assert batches[-1].bytes_read == path.stat().st_size


def test_quoted_fields_with_newlines_and_commas(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b,c\n1,"x, y","line1\nline2"\n2,"say ""hi""",\n', encoding="utf-8")
    rows, _ = read_all(path)
    assert rows == [
        {"a": "1", "b": "x, y", "c": "line1\nline2"},
        {"a": "2", "b": 'say "hi"', "c": None},
    ]


def test_header_only_is_zero_batches(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n", encoding="utf-8")
    rows, src = read_all(path)
    assert rows == [] and src.columns == ["a", "b"]  # type: ignore[attr-defined]


def test_content_hash_is_of_raw_bytes(tmp_path: Path) -> None:
    import hashlib

    path = write_csv(tmp_path / "c.csv", ROWS, enc="gbk")
    with open_source(spec=SourceSpec(path=path)) as src:
        assert src.content_hash == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        assert src.size_bytes == path.stat().st_size


def _raises(path: Path, *must: str, secret: str | None = None, **kw: object) -> InputError:
    with (
        pytest.raises(InputError) as ei,
        open_source(spec=SourceSpec(path=path, **kw)) as src,  # type: ignore[arg-type]
    ):
        for _ in src.batches():
            pass
    msg = str(ei.value)
    assert path.name in msg
    for m in must:
        assert m in msg, msg
    if secret is not None:
        assert secret not in msg
    return ei.value


def test_empty_and_whitespace_files(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_bytes(b"")
    _raises(tmp_path / "e.csv", "file is empty")
    (tmp_path / "w.csv").write_bytes(b"  \n\t\r\n")
    _raises(tmp_path / "w.csv", "empty")


def test_ragged_row_names_row_not_value(tmp_path: Path) -> None:
    rows = [[f"C{i}", "张三", "13800000001", "某地"] for i in range(100)]
    rows[57] = ["C57", "SECRETVALUE9", "13800000001", "某地", "extra"]
    path = write_csv(tmp_path / "r.csv", rows)
    err = _raises(path, "row 58", "5 fields", "line 59", secret="SECRETVALUE9")
    assert err.row == 58


def test_invalid_utf8_after_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dealvault.ingest.csv_reader as mod

    monkeypatch.setattr(mod, "SAMPLE_BYTES", 64)
    body = "\n".join(",".join(r) for r in [HEADER, *(ROWS * 20)]).encode()
    lines = body.split(b"\n")
    lines[40] = b"C040,SECRETNAME\xff\xfe,13800000001,x"
    path = tmp_path / "u.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    err = _raises(path, "row 40", "line 41", "utf-8", secret="SECRETNAME")
    assert err.row == 40


def test_bytes_invalid_in_gb18030(tmp_path: Path) -> None:
    body = "\n".join(",".join(r) for r in [HEADER, *(ROWS * 3)]).encode("gbk")
    lines = body.split(b"\n")
    lines[5] = "C005,秘密值".encode("gbk") + b"\x80\xff,138,x"
    path = tmp_path / "g.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    err = _raises(path, "row 5", "line 6", secret="秘密值")
    assert err.row == 5


@pytest.mark.parametrize("enc", ["utf-8", "utf-8-sig", "gbk"])  # native and transcoded paths
def test_duplicate_empty_and_internal_headers_are_renamed(tmp_path: Path, enc: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text("姓名,,姓名,subject_id,__row,\n张三,2,3,4,5,6\n", encoding=enc)
    rows, src = read_all(path)
    names = ["姓名", "column_2", "姓名_2", "subject_id_src", "row_src", "column_6"]
    assert src.columns == names  # type: ignore[attr-defined]
    assert rows == [dict(zip(names, ["张三", "2", "3", "4", "5", "6"], strict=True))]
    notes = src.header_notes  # type: ignore[attr-defined]
    assert notes[0] == "column 2 has no header: named 'column_2'"
    assert "'姓名' repeats an earlier one: renamed '姓名_2'" in notes[1]
    assert "'subject_id' is a name dealvault uses internally: renamed 'subject_id_src'" in notes[2]
    assert len(notes) == 5 and not any("张三" in n for n in notes)


def test_not_what_extension_says(tmp_path: Path) -> None:
    (tmp_path / "customers.xlsx").write_text("a,b\n1,2\n", encoding="utf-8")
    _raises(tmp_path / "customers.xlsx", "not an XLSX workbook", "CSV")
    (tmp_path / "x.parquet").write_text("a,b\n1,2\n", encoding="utf-8")
    _raises(tmp_path / "x.parquet", "not Parquet")
    (tmp_path / "z.csv").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    _raises(tmp_path / "z.csv", "not CSV")


def test_explicit_encoding_and_delimiter(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ROWS, enc="gbk", delim=";")
    rows, src = read_all(path, encoding="GB18030", delimiter=";")
    assert src.encoding == "gb18030" and rows[0]["姓名"] == "张三"  # type: ignore[attr-defined]
    with pytest.raises(InputError):
        open_source(spec=SourceSpec(path=path, encoding="no-such-codec"))
