"""Write the labelled evaluation set into ``eval/out/`` (deterministic, invented data only).

Contents:

* ``synth/``: a 20,000-customer export from ``dealvault.synth`` (Parquet: customers, orders,
  notes) — every column labelled with its true PII type;
* ``columns/*.parquet``: the synth tables cut into four slices, typed and as text (like a CSV
  read without type inference), and generated columns for the types the export lacks plus
  the hard cases of ``eval/hard.py``;
* ``labels.jsonl``: one line per evaluated column: file, column, the header to present
  (Chinese, English, pinyin, alternative synonym, or none), the true type and the case;
* ``spans.parquet``: the synth notes with the character spans of the customer's own phone,
  ID number and e-mail that the note embeds (labels for the free-text scanner).

Usage: ``python eval/make_eval_set.py [--out eval/out] [--rows 20000] [--seed 20250]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hard import everything

from dealvault.synth import write_export

EVAL_DIR = Path(__file__).resolve().parent
SLICES = 4

TRUTH: dict[str, dict[str, str | None]] = {
    "customers": {
        "客户编号": "customer_id", "姓名": "cn_name", "性别": "gender",
        "出生日期": "date_of_birth", "身份证号": "cn_ric", "手机号": "cn_mobile",
        "邮箱": "email", "地址": "cn_address", "银行卡号": "bank_card", "注册日期": "date",
        "偏好产品": "product", "购买频率": "frequency",
    },
    "orders": {
        "订单号": "order_id", "客户编号": "customer_id", "下单时间": "datetime",
        "产品名称": "product", "数量": "quantity", "金额": "amount",
    },
    "notes": {"客户编号": "customer_id", "记录时间": "datetime", "备注": "free_text"},
}  # fmt: skip

# Header variants presented to the classifier, per original header.
HEADERS: dict[str, dict[str, str]] = {
    "en": {
        "客户编号": "Customer ID", "姓名": "Name", "性别": "Gender", "出生日期": "Date of Birth",
        "身份证号": "ID Card No.", "手机号": "Mobile", "邮箱": "Email", "地址": "Address",
        "银行卡号": "Bank Card", "注册日期": "Registered", "偏好产品": "Favorite Product",
        "购买频率": "Purchase Frequency", "订单号": "Order No", "下单时间": "Order Time",
        "产品名称": "Product Name", "数量": "Qty", "金额": "Amount", "记录时间": "Noted At",
        "备注": "Remarks",
    },
    "pinyin": {
        "客户编号": "khbh", "姓名": "xm", "性别": "xb", "出生日期": "csrq", "身份证号": "sfzh",
        "手机号": "sjh", "邮箱": "yx", "地址": "dz", "银行卡号": "yhkh", "注册日期": "zcrq",
        "偏好产品": "phcp", "购买频率": "gmpl", "订单号": "ddh", "下单时间": "xdsj",
        "产品名称": "cp", "数量": "sl", "金额": "je", "记录时间": "记录时间", "备注": "bz",
    },
    "alt": {
        "客户编号": "会员编号", "姓名": "客户姓名", "性别": "性别", "出生日期": "生日",
        "身份证号": "身份证号码", "手机号": "手机号码", "邮箱": "电子邮箱", "地址": "收货地址",
        "银行卡号": "银行卡", "注册日期": "注册时间", "偏好产品": "喜好产品",
        "购买频率": "消费频次", "订单号": "订单编号", "下单时间": "订单时间",
        "产品名称": "商品名称", "数量": "购买数量", "金额": "实付金额", "记录时间": "沟通时间",
        "备注": "沟通记录",
    },
}  # fmt: skip


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """What a CSV reader without type inference returns."""
    return frame.with_columns(
        pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S"),
    ).cast(pl.String)


def _synth(out: Path, rows: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, pl.DataFrame]]:
    paths = write_export(out_dir=out / "synth", rows=rows, seed=seed, fmt="parquet")
    tables = {t: pl.read_parquet(p) for t, p in paths.items()}
    labels: list[dict[str, Any]] = []
    cols = out / "columns"
    for table, frame in tables.items():
        ids = frame["客户编号"].str.slice(1).cast(pl.Int64)
        bounds = [rows * k // SLICES for k in range(SLICES + 1)]
        for k in range(SLICES):
            part = frame.filter((ids > bounds[k]) & (ids <= bounds[k + 1]))
            for form, data in (("typed", part), ("text", _as_text(part))):
                name = f"synth_{table}_{k}_{form}.parquet"
                data.write_parquet(cols / name)
                variants = (
                    ("zh", "none", "en", "pinyin", "alt") if form == "typed" else ("zh", "none")
                )
                for variant in variants:
                    for col, truth in TRUTH[table].items():
                        header = {"zh": col, "none": None}.get(
                            variant, HEADERS.get(variant, {}).get(col)
                        )
                        labels.append({
                            "file": name, "column": col, "header": header, "pii_type": truth,
                            "case": f"synth/{table}/{form}/{variant}",
                        })  # fmt: skip
    return labels, tables


def _generated(out: Path, seed: int) -> list[dict[str, Any]]:
    labels: list[dict[str, Any]] = []
    for i, case in enumerate(everything(seed, sizes=(12, 60, 500, 2_000), hard_rows=2_000)):
        name = f"case_{i:03d}.parquet"
        values = case.values
        dtype = pl.Int64 if values and isinstance(values[0], int) else pl.String
        pl.DataFrame({"value": pl.Series(values, dtype=dtype)}).write_parquet(
            out / "columns" / name
        )
        for header in case.headers:
            labels.append({
                "file": name, "column": "value", "header": header, "pii_type": case.pii_type,
                "case": case.key, "note": case.note,
            })  # fmt: skip
    return labels


def _find_all(text: str, needle: str) -> list[int]:
    out, at = [], text.find(needle)
    while needle and at >= 0:
        out.append(at)
        at = text.find(needle, at + 1)
    return out


def _spans(out: Path, tables: dict[str, pl.DataFrame]) -> int:
    """Label the customer's own phone / ID / e-mail inside each note (known values)."""
    customers = tables["customers"].select("客户编号", "手机号", "身份证号", "邮箱")
    notes = tables["notes"].join(customers, on="客户编号", how="left", maintain_order="left")
    rows = []
    for i, (note, phone, id_no, mail) in enumerate(
        notes.select("备注", "手机号", "身份证号", "邮箱").iter_rows()
    ):
        digits = "".join(ch for ch in phone if ch.isdigit())[-11:]
        spans = []
        forms = {
            digits,
            f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
            f"{digits[:3]} {digits[3:7]} {digits[7:]}",
        }
        for form in forms:
            spans += [(s, s + len(form), "cn_mobile") for s in _find_all(note, form)]
        spans += [(s, s + len(id_no), "cn_ric") for s in _find_all(note, id_no)]
        at = note.find("@")
        if at >= 0:  # e-mail hidden from 邮箱 for some customers: take the address token
            start = at
            while start > 0 and (
                note[start - 1].isascii()
                and (note[start - 1].isalnum() or note[start - 1] in "._-")
            ):
                start -= 1
            end = at + 1
            while (
                end < len(note)
                and note[end].isascii()
                and (note[end].isalnum() or note[end] in ".-")
            ):
                end += 1
            while note[end - 1] == ".":
                end -= 1
            if mail is not None and note[start:end] != mail:
                raise SystemExit(f"note {i}: embedded e-mail differs from the customer's")
            spans.append((start, end, "email"))
        for start, end, kind in sorted(spans):
            rows.append({"row": i, "start": start, "end": end, "pii_type": kind})
    pl.DataFrame({"text": notes["备注"]}).write_parquet(out / "notes.parquet")
    schema = {"row": pl.Int64, "start": pl.Int64, "end": pl.Int64, "pii_type": pl.String}
    pl.DataFrame(rows, schema=schema).write_parquet(out / "spans.parquet")
    return len(rows)


def build(out: Path, rows: int, seed: int) -> dict[str, int]:
    if out.exists():
        shutil.rmtree(out)
    (out / "columns").mkdir(parents=True)
    labels, tables = _synth(out, rows, seed)
    labels += _generated(out, seed)
    with (out / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for label in labels:
            fh.write(json.dumps(label, ensure_ascii=False, sort_keys=True) + "\n")
    spans = _spans(out, tables)
    return {"columns": len(labels), "notes": tables["notes"].height, "spans": spans}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EVAL_DIR / "out")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20250)
    args = parser.parse_args()
    counts = build(args.out, args.rows, args.seed)
    print(json.dumps({"out": str(args.out), **counts}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
