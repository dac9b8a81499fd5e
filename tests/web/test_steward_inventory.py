"""The inventory page: every member reads a dataset's description (columns, types,
categories, fill rates, grade; never a value); the steward overrides a column's
classification, recorded; anyone else is refused; in both languages."""

from __future__ import annotations

import re

from tests.api.conftest import Server
from tests.web.steward_setup import (
    DEAL,
    ZH,
    business,
    counsel,
    events,
    in_chinese,
    no_personal_value,
    steward,
    without_csrf,
)

PAGE = f"/deals/{DEAL}/inventory"
OVERRIDE = f"{PAGE}/override"


def test_a_bidder_reads_the_inventory_without_a_value(server: Server) -> None:
    analyst = business(server)
    page = analyst.get(PAGE)  # the deal's only dataset is chosen
    assert page.status_code == 200
    assert 'data-testid="inventory-columns"' in page.text
    assert 'data-testid="customers">20<' in page.text
    assert ">邮箱</th>" in _row(page.text, "邮箱") and "email" in _row(page.text, "邮箱")
    assert 'data-testid="override-form"' not in page.text
    assert len(re.findall(r'data-testid="column-row"', page.text)) >= 4
    no_personal_value(page)
    assert events(server, "inventory", decision="allow", actor=server.world.bidder_person)
    zh = in_chinese(analyst, f"{PAGE}?dataset=crm", ZH["inventory"])
    assert "填充率" in zh.text and "电子邮箱" in _row(zh.text, "邮箱")  # the type in Chinese
    no_personal_value(zh)

    missing = analyst.get(f"{PAGE}?dataset=nothing-here")
    assert missing.status_code == 404


def test_the_steward_overrides_a_column(server: Server) -> None:
    me = steward(server)
    page = me.get(f"{PAGE}?dataset=crm")
    assert 'data-testid="override-form"' in page.text
    assert 'href="/deals/clean-2026/inventory?dataset=crm&amp;column=customers/' in page.text
    chosen = me.get(f"{PAGE}?dataset=crm&column=customers%2F邮箱")
    assert '<option value="customers/邮箱" selected>' in chosen.text
    form = {"dataset": "crm", "target": "customers/邮箱"}
    refused = without_csrf(me, OVERRIDE, form | {"category": "free_text"})
    assert refused.status_code == 403

    done = me.submit(
        f"{PAGE}?dataset=crm", OVERRIDE,
        {"dataset": "crm", "target": "customers/邮箱", "pii_type": "email",
         "category": "contact", "sensitive": "yes"},
    )  # fmt: skip
    assert done.status_code == 200 and str(done.url).endswith("/inventory?dataset=crm")
    row = _row(done.text, "邮箱")
    assert "set by steward" in row and "badge-deny" in row  # sensitive now
    (ev,) = events(server, "classify.override", decision="allow")
    assert ev["objects"]["column"] == "邮箱" and ev["objects"]["category"] == "contact"

    unknown = me.submit(
        f"{PAGE}?dataset=crm", OVERRIDE,
        {"dataset": "crm", "target": "customers/no such column"},
    )  # fmt: skip
    assert unknown.status_code == 404


def test_others_may_not_override(server: Server) -> None:
    lawyer = counsel(server)
    analyst = business(server)
    assert 'data-testid="override-form"' not in lawyer.get(PAGE).text
    for who in (lawyer, analyst):
        refused = who.submit(
            PAGE, OVERRIDE,
            {"dataset": "crm", "target": "customers/邮箱", "category": "identity"},
        )  # fmt: skip
        assert refused.status_code == 403
        assert "dataset.override" in refused.text or "not allowed" in refused.text.lower()
    assert len(events(server, "classify.override", decision="deny")) == 2
    assert not events(server, "classify.override", decision="allow")


def _row(html: str, column: str) -> str:
    for row in html.split('<tr data-testid="column-row"')[1:]:
        if f">{column}</th>" in row:
            return row.split("</tr>")[0]
    raise AssertionError(f"no row for {column}")
