"""The records page through the real app: a clean-team member under a capped masked grant
sees 50 records a page, released page by page (the row cap falls by the page, not by the
whole dataset), with the disclosure's metadata and a visible watermark naming them; the
downloads carry the recipient in their metadata, the recipient's canary customers, a visible
watermark (XLSX, PDF) and no live formula; a member without a grant sees their level, the
flow's reason and the way to ask, and no personal value; the steward reads in full."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess

import openpyxl
import pyarrow.parquet as pq

from dealvault import sheets
from dealvault.deidentify.writers import PARQUET_KEY
from tests.api.conftest import Server, leaked, personal_values
from tests.api.test_signin import events
from tests.web.data_helpers import (
    CLEAN,
    CLEAN_NAME,
    CUSTOMERS,
    DATASET,
    FORMULA,
    add_shops,
    business,
    clean_team,
    rows_left,
    shop_values,
    steward,
    xlsx_drawings,
)

URL = f"/deals/clean-2026/records?dataset={DATASET}"
SECRETS = personal_values() | shop_values()
CAP = 500


def _table_rows(page: str) -> list[str]:
    table = page.split('data-testid="records-table"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", table.split("<tbody>", 1)[1], flags=re.S)


def _watermark(page: str) -> list[str]:
    box = page.split('<div class="watermark" id="watermark" aria-hidden="true">', 1)[1]
    box = box.split("</div>", 1)[0]
    return re.findall(r"<span>([^<]*)</span>", box)


def test_clean_team_pages_release_only_the_page(server: Server) -> None:
    add_shops(server)
    me = clean_team(server, cap=CAP)
    first = me.get(URL)
    assert first.status_code == 200, first.text
    assert "no-store" in first.headers["cache-control"]
    assert len(_table_rows(first.text)) == 50
    assert 'data-testid="records-level"><span class="badge badge-masked">masked' in first.text
    assert rows_left(first.text) == CAP - 50  # the page, not the 120 customers
    # masked and pseudonymized are offered; anonymized (made whole: the cap at once) is not
    assert '<option value="pseudonymized">' in first.text
    assert '<option value="anonymized"' not in first.text
    assert "of 123 (page 1 of 3)" in first.text  # 120 customers and Bidder A's 3 canaries
    # the watermark: repeated, with the viewer's name, organisation and the time
    marks = _watermark(first.text)
    assert len(marks) >= 20 and len(set(marks)) == 1
    assert marks[0].startswith(f"{CLEAN_NAME} · Bidder A · ")
    # masked values only: no personal value of a customer on the page
    assert not leaked(SECRETS, content_type="text/html", body=first.content, headers="")
    # masked phones (the rows come in Bidder A's own order, not the import order)
    assert re.search(r"137\*{4}\d{4}", first.text)
    second = me.get(URL + "&level=masked&page=2")
    assert second.status_code == 200, second.text
    assert rows_left(second.text) == CAP - 100
    assert len(_table_rows(second.text)) == 50 and "51–100 of 123" in second.text
    third = me.get(URL + "&level=masked&page=3")
    assert len(_table_rows(third.text)) == 23 and rows_left(third.text) == CAP - 123
    assert 'data-testid="page-next"' not in third.text
    # each page read is one recorded disclosure of that page's rows
    reads = [e for e in events(server, "disclose") if e["actor"] == CLEAN]
    assert [e["counts"]["rows"] for e in reads] == [50, 50, 23]
    assert all(e["objects"]["level"] == "masked" for e in reads)
    assert reads[0]["purpose"] == "web data room: records"


def test_in_chinese_with_the_row_cap_used_up(server: Server) -> None:
    add_shops(server)
    me = clean_team(server, language="zh", cap=60)
    page = me.get(URL)
    assert page.status_code == 200, page.text
    assert "记录" in page.text and "剩余" in page.text and rows_left(page.text) == 10
    assert _watermark(page.text)[0].startswith(f"{CLEAN_NAME} · Bidder A · ")
    second = me.get(URL + "&level=masked&page=2")
    assert second.status_code == 200 and len(_table_rows(second.text)) == 10
    assert rows_left(second.text) == 0
    # the cap is used up: the denial with the flow's reason, and no record
    third = me.get(URL + "&level=masked&page=3")
    assert third.status_code == 403
    assert "行数上限已用完" in third.text and 'data-testid="records-denied"' in third.text
    assert 'data-testid="records-table"' not in third.text
    assert not leaked(SECRETS, content_type="text/html", body=third.content, headers="")


def test_downloads_carry_recipient_canaries_watermark_and_no_formula(server: Server) -> None:
    add_shops(server)
    me = clean_team(server, cap=CAP)
    base = f"/deals/clean-2026/records/download?dataset={DATASET}&level=masked"
    got = me.get(base + "&format=csv&scope=all")
    assert got.status_code == 200, got.text
    assert "attachment" in got.headers["content-disposition"]
    first, *lines = got.text.splitlines()
    meta = json.loads(first.removeprefix("# dealvault-disclosure: "))
    assert meta["recipient"] == "Bidder A" and meta["generated_by"] == CLEAN
    assert meta["generated_by_name"] == CLEAN_NAME and meta["level"] == "masked"
    assert meta["canary_rows"] == 3 and meta["rows"] == 123
    cells = [c for row in csv.reader(io.StringIO("\n".join(lines))) for c in row]
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert not [c for c in cells if sheets.is_unsafe(c) and not re.fullmatch(r"-?[\d.]+", c)]
    # the three canary customers ride along (canary_rows), and nothing names them: their
    # masked e-mail addresses show a real customer's domain, not the seller's canary domain
    assert not [c for c in cells if "canary" in c]
    assert not leaked(SECRETS, content_type="text/csv", body=got.content, headers="")

    xlsx = me.get(base + "&format=xlsx&page=1")
    assert xlsx.status_code == 200, xlsx.text
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    data = book["data"]
    assert data.max_row == 51  # the header and the page's 50 rows
    values = [c.value for row in data.iter_rows() for c in row if c.value is not None]
    assert "'" + FORMULA in values and FORMULA not in values
    assert all(c.data_type != "f" for row in data.iter_rows() for c in row)
    header = data.oddHeader.center.text or ""
    assert CLEAN_NAME in header and "Bidder A" in header
    assert xlsx_drawings(xlsx.content).count(f"{CLEAN_NAME} · Bidder A") >= 3
    about = dict(book["about"].iter_rows(values_only=True))
    assert about["recipient"] == "Bidder A" and about["generated_by_name"] == CLEAN_NAME
    assert book.properties.subject == "recipient: Bidder A"

    parquet = me.get(base + "&format=parquet&page=2")
    assert parquet.status_code == 200
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 50
    assert json.loads(table.schema.metadata[PARQUET_KEY])["recipient"] == "Bidder A"

    pdf = me.get(base + "&format=pdf&page=1")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert text.count(f"{CLEAN_NAME} · Bidder A") >= 10  # repeated, on every page
    assert re.search(r"137\*{4}\d{4}", text)
    assert not [v for v in SECRETS if v in text]
    info = subprocess.run(
        ["pdfinfo", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert f"{CLEAN_NAME} (Bidder A)" in info  # the author
    # every download is a recorded disclosure: 123 + 50 + 50 + 50 rows of the cap
    reads = [e for e in events(server, "disclose") if e["actor"] == CLEAN]
    assert [e["counts"]["rows"] for e in reads] == [123, 50, 50, 50]
    assert all(e["purpose"] == "web data room: download" for e in reads)


def test_a_clean_team_member_without_grant_is_told_how_to_ask(server: Server) -> None:
    add_shops(server)
    me = clean_team(server, grant=False)
    page = me.get(URL)
    assert page.status_code == 403, page.text
    text = page.text
    assert 'data-testid="records-denied"' in text
    assert 'data-testid="level-now"><span class="badge badge-aggregate">aggregate' in text
    assert "no approved grant" in text
    assert 'href="/deals/clean-2026/requests"' in text
    assert 'data-testid="records-table"' not in text and '<div class="watermark"' not in text
    assert not leaked(SECRETS, content_type="text/html", body=page.content, headers="")
    # asking for a level directly, or its file: the flow's denial, no value
    files = f"/deals/clean-2026/records/download?dataset={DATASET}&level=masked&format="
    for url in (URL + "&level=masked", files + "csv", files + "xlsx", files + "pdf"):
        got = me.get(url)
        assert got.status_code == 403, (url, got.status_code)
        assert "no approved grant" in got.text
        assert not leaked(SECRETS, content_type=got.headers["content-type"], body=got.content,
                          headers=str(got.headers))  # fmt: skip
    denied = [e for e in events(server, "disclose") if e["actor"] == CLEAN]
    assert denied and all(e["decision"] == "deny" for e in denied)


def test_the_business_team_gets_the_denial_in_both_languages(server: Server) -> None:
    add_shops(server)
    me = business(server)
    for language in ("en", "zh"):
        me.http.cookies.set("dealvault-lang", language)
        page = me.get(URL)
        assert page.status_code == 403
        ceiling = (
            "超出 bidder_business 在 due_diligence 阶段的上限 aggregate"
            if language == "zh"
            else "above the ceiling aggregate for bidder_business"
        )
        assert ceiling in page.text  # the flow's reason, in the reader's language
        assert ("您目前无法查看" if language == "zh" else "You cannot see records") in page.text
        masked = me.get(URL + "&level=masked")
        assert masked.status_code == 403
        assert (
            "级别 masked 超出 bidder_business"
            if language == "zh"
            else "level masked is above the ceiling aggregate for bidder_business"
        ) in masked.text
        for got in (page, masked):
            assert not leaked(SECRETS, content_type="text/html", body=got.content, headers="")


def test_the_steward_reads_in_full_without_a_cap(server: Server) -> None:
    add_shops(server)
    me = steward(server)
    page = me.get(URL)
    assert page.status_code == 200, page.text
    assert 'badge-full">full' in page.text and "no row cap" in page.text
    assert CUSTOMERS[0]["手机号"] in page.text  # the seller's own data, in clear
    assert _watermark(page.text)[0].startswith("Second Steward · 洁净日化有限公司 · ")
    assert "canary" not in page.text  # no canary customers in the seller's own copy
    assert re.search(r"<select[^>]*name=\"level\"", page.text)
    masked = me.get(URL + "&level=pseudonymized")
    assert masked.status_code == 200 and "Left out" in masked.text
