"""The aggregates page through the real app: the business team sees safe aggregates as a
table, bars and a map of provinces, in English and Chinese; suppressed cells are shown as
suppressed (never as zero) with the reason why; groupings by month; downloads carry the
metadata and a visible watermark, with formulas neutralised; roles the policy keeps from
aggregates get the flow's reason and no personal value."""

from __future__ import annotations

import csv
import io
import json
import re

import openpyxl

from dealvault import sheets
from dealvault.flows import admin
from tests.api.conftest import ANALYST, Server, leaked, personal_values
from tests.api.test_signin import events
from tests.conftest import SELLER, STEWARD, P, train
from tests.web.conftest import sign_up
from tests.web.data_helpers import (
    DATASET,
    FORMULA,
    add_shops,
    business,
    invite,
    shop_values,
    xlsx_drawings,
)

URL = f"/deals/clean-2026/aggregates?dataset={DATASET}"
SECRETS = personal_values() | shop_values()
SECURITY = "security@seller.example"


def _rows(page: str) -> dict[str, str]:
    """The table's rows: group label -> the row's HTML."""
    table = page.split('data-testid="aggregate-table"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr[^>]*>.*?</tr>", table, flags=re.S):
        head = re.search(r'<th scope="row">([^<]*)</th>', row)
        if head:
            out[head.group(1)] = row
    return out


def test_business_team_sees_provinces_with_suppressed_cells(server: Server) -> None:
    add_shops(server)
    me = business(server)
    page = me.get(URL + "&group_by=province")
    assert page.status_code == 200, page.text
    assert "no-store" in page.headers["cache-control"]
    text = page.text
    rows = _rows(text)
    assert set(rows) == {"All", "北京市", "上海市", "广东省", "四川省"}
    # released cells show their number, suppressed ones say so (and never 0)
    assert ">60<" in rows["北京市"] and ">40<" in rows["上海市"] and ">120<" in rows["All"]
    for hidden in ("四川省", "广东省"):
        assert "data-suppressed" in rows[hidden] and ">suppressed<" in rows[hidden]
        assert not re.search(r'class="num">\s*0\s*<', rows[hidden])
    # which cell holds too few customers and which hides another is not told: every
    # suppressed cell reads the same (else the first would be known to be below k)
    assert rows["四川省"].replace("四川省", "") == rows["广东省"].replace("广东省", "")
    assert "protect another cell" not in text
    assert "data-suppressed" not in rows["北京市"]
    assert 'data-testid="suppression-help"' in text and "is not zero" in text
    # the bars: released ones have a length, suppressed ones are marked, not zero-length
    bars = re.findall(r'<g class="bar-row[^"]*" data-testid="bar"[^>]*>.*?</g>', text, re.S)
    assert len(bars) == 4
    assert sum("data-suppressed" in b for b in bars) == 2
    assert all('width="0"' not in b for b in bars)
    widths = [int(w) for w in re.findall(r'<rect class="bar" [^>]*width="(\d+)"', text)]
    assert sorted(widths) == [293, 440]  # 40 and 60 on one scale
    assert "style=" not in text.split('data-testid="aggregate-chart"')[1].split("</figure>")[0]
    # the map of provinces: Beijing darkest, Sichuan hatched
    assert 'data-testid="province-map"' in text
    assert re.search(r'<g class="tile t5">\s*<rect[^>]*></rect>\s*<text[^>]*>北京<', text)
    assert re.search(
        r'<g class="tile ts" data-suppressed>\s*<rect[^>]*></rect>\s*<text[^>]*>四川<', text
    )
    assert not leaked(SECRETS, content_type="text/html", body=page.content, headers="")
    # the read is recorded as an aggregate disclosure, with its parameters
    mine = [e for e in events(server, "disclose") if e["actor"] == ANALYST]
    assert mine and mine[-1]["objects"]["level"] == "aggregate"
    assert mine[-1]["objects"]["group_by"] == "['province']"
    assert mine[-1]["purpose"] == "web data room: safe aggregates"


def test_in_chinese_by_month_and_without_grouping(server: Server) -> None:
    add_shops(server)
    me = business(server, language="zh")
    page = me.get(URL + "&group_by=registered_at:month")
    assert page.status_code == 200, page.text
    assert "安全汇总" in page.text and "注册月份" in page.text
    rows = _rows(page.text)
    assert {f"2024-{m:02d}" for m in range(1, 7)} <= set(rows)
    assert all(">20<" in rows[f"2024-{m:02d}"] for m in range(1, 7))
    assert "province-map" not in page.text
    assert "本表中没有被抑制的单元格" in page.text
    # the chosen grouping and measure are what the form shows
    assert '<option value="registered_at:month" selected>' in page.text
    total = me.get(URL + "&group_by=&measure=mean:age")
    assert total.status_code == 200, total.text
    assert set(_rows(total.text)) == set() and "平均年龄" in total.text
    assert 'data-testid="aggregate-chart"' not in total.text
    # a grouping that names a person is refused by the flow, with its reason, on the page
    bad = me.get(URL + "&group_by=phone")
    assert bad.status_code == 400 and "directly identif" in bad.text
    assert not leaked(SECRETS, content_type="text/html", body=bad.content, headers="")


def test_downloads_carry_metadata_watermark_and_no_formula(server: Server) -> None:
    add_shops(server)
    me = business(server)
    page = me.get(URL + "&group_by=favourite_product")
    assert page.status_code == 200
    link = re.search(r'href="(/deals/clean-2026/aggregates/download\?[^"]+format=csv)"', page.text)
    assert link, "no CSV download on the page"
    got = me.get(link.group(1).replace("&amp;", "&"))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    first, *lines = got.text.splitlines()
    meta = json.loads(first.removeprefix("# dealvault-disclosure: "))
    assert meta["level"] == "aggregate" and meta["recipient"] == "Bidder A"
    assert meta["generated_by"] == ANALYST and meta["generated_by_name"] == "Analyst"
    cells = [c for row in csv.reader(io.StringIO("\n".join(lines))) for c in row]
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert not [c for c in cells if sheets.is_unsafe(c) and not _number(c)]

    xlsx = me.get(link.group(1).replace("&amp;", "&").replace("format=csv", "format=xlsx"))
    assert xlsx.status_code == 200, xlsx.text
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    data = book["data"]
    values = [c.value for row in data.iter_rows() for c in row if c.value is not None]
    assert "'" + FORMULA in values and FORMULA not in values
    assert all(c.data_type != "f" for row in data.iter_rows() for c in row)
    # the visible watermark: header and footer of every printed page, and text boxes
    header = data.oddHeader.center.text or ""
    assert "Analyst" in header and "Bidder A" in header and meta["generated_at"][:10] in header
    assert "Analyst · Bidder A" in (data.oddFooter.left.text or "")
    assert xlsx_drawings(xlsx.content).count("Analyst · Bidder A") >= 1
    assert book.properties.subject == "recipient: Bidder A"
    assert not leaked(SECRETS, content_type=xlsx.headers["content-type"], body=xlsx.content,
                      headers=str(xlsx.headers))  # fmt: skip


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_roles_without_aggregates_get_the_flows_reason(server: Server) -> None:
    add_shops(server)
    invite(server, SECURITY, role="security_officer", name="Security", org=SELLER)
    train(server.stores, SECURITY)
    me = sign_up(server, SECURITY)
    page = me.get(URL)
    assert page.status_code == 403, page.text
    assert "access denied" in page.text and "security_officer" in page.text
    assert not leaked(SECRETS, content_type="text/html", body=page.content, headers="")
    file = me.get(f"/deals/clean-2026/aggregates/download?dataset={DATASET}&group_by=province")
    assert file.status_code == 403 and "access denied" in file.text
    # a frozen deal stops the page for everyone, with the reason
    analyst = business(server)
    admin.set_frozen(server.stores, actor=P(STEWARD), code=server.world.deal, frozen=True,
                     reason="a copy was found outside the room")  # fmt: skip
    frozen = analyst.get(URL)
    assert frozen.status_code == 403 and "frozen" in frozen.text
