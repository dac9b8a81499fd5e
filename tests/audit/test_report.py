"""The auditor's report: summary figures, HTML (verdict, escaping) and PDF (text, CJK)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from dealvault.audit.report import (
    APPENDIX_EVENTS,
    ReportInput,
    build_summary,
    render_html,
    render_pdf,
)
from dealvault.errors import Invalid
from dealvault.ingest.fields import Category

SELLER = "晶洁日用品有限公司"
BIDDER = "Harbour Capital"
HOSTILE_ORG = "<script>alert('org')</script> Ltd"
HOSTILE_PURPOSE = "<script>alert('purpose')</script>"

STEWARD = "steward@jingjie.example"
ANALYST = "analyst@harbour.example"
CLEAN = "clean@harbour.example"
MALLORY = "mallory@evil.example"
STRANGER = "nobody@nowhere.example"  # not in people: no organisation on record

PEOPLE = {STEWARD: SELLER, ANALYST: BIDDER, CLEAN: BIDDER, MALLORY: HOSTILE_ORG}


def _event(
    seq: int,
    action: str,
    actor: str | None,
    *,
    decision: str | None = None,
    reasons: list[str] | None = None,
    purpose: str | None = None,
    customers: int | None = None,
    **objects: Any,
) -> dict[str, Any]:
    return {
        "v": 1,
        "seq": seq,
        "at": f"2026-11-25T{seq // 60:02d}:{seq % 60:02d}:01.123Z",
        "actor": actor,
        "action": action,
        "deal": "jingjie-2026",
        "objects": objects,
        "purpose": purpose,
        "decision": decision,
        "reasons": reasons or [],
        "counts": {} if customers is None else {"customers": customers},
        "subjects": None
        if not customers
        else {"count": customers, "digest": "sha256:" + "ab" * 32},
    }


def _events() -> list[dict[str, Any]]:
    dd = "due_diligence"
    stage_change: dict[str, Any] = {"from": "preparation", "to": dd}
    rejects_of_import: dict[str, Any] = {"import": 1}
    return [
        _event(0, "store.init", None, origin="dealvault.example/jingjie"),
        _event(1, "org.create", STEWARD, organization=SELLER, kind="seller"),
        _event(2, "deal.create", STEWARD, seller=SELLER, kind="equity"),
        _event(3, "deal.stage", STEWARD, **stage_change),
        {  # import: counts read/imported/…, customers from the subject count
            **_event(4, "import", STEWARD, decision="allow", dataset="crm", stage=dd),
            "counts": {"read": 120, "imported": 100, "merged": 0, "rejected": 20},
            "subjects": {"count": 100, "digest": "sha256:" + "cd" * 32},
        },
        _event(
            5,
            "disclose",
            STEWARD,
            decision="allow",
            purpose="customer service",
            customers=1,
            dataset="crm",
            level="full",
            by="phone",
            categories="contact,identity",
            stage=dd,
        ),
        _event(
            6,
            "disclose",
            ANALYST,
            decision="deny",
            reasons=["no signed NDA covering contact", "training expired"],
            purpose=HOSTILE_PURPOSE,
            dataset="crm",
            level="full",
            by="phone",
            categories="contact",
            stage=dd,
        ),
        _event(
            7,
            "disclose",
            CLEAN,
            decision="allow",
            purpose="clean team review",
            customers=3,
            dataset="crm",
            level="full",
            by="email",
            categories="all",
            stage="clean_team",
        ),
        _event(  # an older event: no stage recorded
            8,
            "disclose",
            STEWARD,
            decision="allow",
            purpose="spot check",
            customers=2,
            dataset="crm",
            level="full",
            by="phone",
            categories="identity",
        ),
        _event(9, "rejects.read", MALLORY, decision="deny", reasons=["not a seller steward"]),
        _event(10, "rejects.read", STEWARD, decision="allow", stage=dd, **rejects_of_import),
        _event(
            11,
            "shred",
            STEWARD,
            decision="allow",
            customers=1,
            dataset="crm",
            scope="customer",
            stage="post_closing",
        ),
        _event(12, "deal.stage", ANALYST, decision="deny", reasons=["not a seller steward"]),
        _event(13, "audit.checkpoint", None, checkpoint=1),
        _event(14, "disclose", STRANGER, decision="deny", reasons=["unknown person"]),
    ]


def _checkpoints() -> list[dict[str, Any]]:
    return [
        {
            "id": 1,
            "size": 14,
            "root": "9f" * 32,
            "reason": "cadence",
            "at": "2026-11-25T00:13:02Z",
            "cosigners": ["harbour-capital", "pwc-audit"],
        },
        {
            "id": 2,
            "size": 15,
            "root": "1e" * 32,
            "reason": "audit.export",
            "at": "2026-11-25T00:15:00Z",
            "cosigners": [],
        },
    ]


def _verification_ok() -> dict[str, Any]:
    return {
        "ok": True,
        "events": 15,
        "root": "1e" * 32,
        "first_bad": None,
        "problems": [],
        "checkpoints": [
            {
                "checkpoint": "1",
                "size": 14,
                "root_matches": True,
                "signatures": [
                    {
                        "name": "dealvault.example/jingjie",
                        "key_id": "0a1b2c3d",
                        "status": "verified",
                        "timestamp": None,
                    },
                    {
                        "name": "harbour-capital",
                        "key_id": "44556677",
                        "status": "verified",
                        "timestamp": 1795568000,
                    },
                    {
                        "name": "pwc-audit",
                        "key_id": "8899aabb",
                        "status": "unknown",
                        "timestamp": None,
                    },
                ],
            },
            {
                "checkpoint": "2",
                "size": 15,
                "root_matches": True,
                "signatures": [
                    {
                        "name": "dealvault.example/jingjie",
                        "key_id": "0a1b2c3d",
                        "status": "verified",
                        "timestamp": None,
                    }
                ],
            },
        ],
    }


def _verification_failed() -> dict[str, Any]:
    return {
        **_verification_ok(),
        "ok": False,
        "first_bad": 6,
        "problems": [
            "event 6: leaf hash does not match the stored tree",
            "event 6: checkpoint 1 does not match the events; an event from 6 to 13 was altered",
        ],
        "checkpoints": [
            {"checkpoint": "1", "size": 14, "root_matches": False, "signatures": "invalid"}
        ],
    }


def _input(**changes: Any) -> ReportInput:
    data = ReportInput(
        title="Audit report — deal jingjie-2026",
        generated_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        origin="dealvault.example/jingjie",
        events=_events(),
        people=PEOPLE,
        verification=_verification_ok(),
        checkpoints=_checkpoints(),
    )
    return replace(data, **changes)


def _counts(row: Mapping[str, Any]) -> tuple[int, int, int, int]:
    return row["accesses"], row["allowed"], row["denied"], row["customers"]


# --- summary -----------------------------------------------------------------------------


def test_summary_totals() -> None:
    t = build_summary(data=_input())["totals"]
    # accesses: import 4, disclose 5 6 7 8 14, rejects.read 9 10, shred 11
    assert t["events"] == 15
    assert t["accesses"] == 9
    assert t["allowed"] == 6
    assert t["denied"] == 3
    assert t["denials"] == 4  # plus the denied deal.stage (12), not an access
    assert t["customers"] == 100 + 1 + 3 + 2 + 1  # import subjects + disclosures + shred
    assert t["all_category_accesses"] == 1
    assert t["actors"] == 5
    assert t["organisations"] == 3  # seller, bidder, hostile org (the stranger has none)
    assert t["checkpoints"] == 2
    assert t["first_event_at"] == "2026-11-25T00:00:01.123Z"
    assert t["last_event_at"] == "2026-11-25T00:14:01.123Z"


def test_summary_by_organisation_and_person() -> None:
    s = build_summary(data=_input())
    orgs = s["by_organisation"]
    assert _counts(orgs[SELLER]) == (5, 5, 0, 104)  # 4 5 8 10 11, no denial
    assert _counts(orgs[BIDDER]) == (2, 1, 1, 3)
    assert _counts(orgs[HOSTILE_ORG]) == (1, 0, 1, 0)
    assert _counts(orgs["(no organisation on record)"]) == (1, 0, 1, 0)
    # most accesses first, ties by name
    assert list(orgs) == [SELLER, BIDDER, "(no organisation on record)", HOSTILE_ORG]
    people = s["by_person"]
    assert set(people) == {STEWARD, ANALYST, CLEAN, MALLORY, STRANGER}
    assert people[CLEAN]["organisation"] == BIDDER
    assert _counts(people[CLEAN]) == (1, 1, 0, 3)
    assert _counts(people[ANALYST]) == (1, 0, 1, 0)  # the denied deal.stage is no access
    assert _counts(people[STEWARD]) == (5, 5, 0, 104)


def test_summary_by_category_expands_all() -> None:
    cats = build_summary(data=_input())["by_category"]
    every = [c.value for c in Category]
    # "all" (event 7) counts under every category
    assert [k for k in cats if k in every] == every
    assert _counts(cats["contact"]) == (3, 2, 1, 1 + 3)  # events 5, 6 (denied), 7
    assert _counts(cats["identity"]) == (3, 3, 0, 1 + 3 + 2)  # events 5, 7, 8
    assert _counts(cats["sensitive"]) == (1, 1, 0, 3)  # event 7 only
    # import, rejects.read (9, 10), shred and the stranger's disclose name no category
    assert _counts(cats["unknown"]) == (5, 3, 2, 100 + 1)
    assert list(cats)[-1] == "unknown"


def test_summary_by_stage() -> None:
    stages = build_summary(data=_input())["by_stage"]
    assert _counts(stages["due_diligence"]) == (4, 3, 1, 101)  # 4, 5, 6, 10
    assert _counts(stages["clean_team"]) == (1, 1, 0, 3)
    assert _counts(stages["post_closing"]) == (1, 1, 0, 1)
    assert _counts(stages["unknown"]) == (3, 1, 2, 2)  # 8 (older event), 9, 14
    assert list(stages) == ["due_diligence", "clean_team", "post_closing", "unknown"]


def test_summary_denials() -> None:
    denials = build_summary(data=_input())["denials"]
    assert [d["seq"] for d in denials] == [6, 9, 12, 14]
    first = denials[0]
    assert first["actor"] == ANALYST
    assert first["organisation"] == BIDDER
    assert first["action"] == "disclose"
    assert first["reasons"] == ["no signed NDA covering contact", "training expired"]
    assert first["at"] == "2026-11-25T00:06:01.123Z"
    assert denials[2]["action"] == "deal.stage"


def test_summary_of_an_empty_log() -> None:
    s = build_summary(data=_input(events=[], checkpoints=[]))
    assert s["totals"]["accesses"] == 0
    assert s["totals"]["first_event_at"] is None
    assert s["by_organisation"] == {} and s["denials"] == []


# --- HTML --------------------------------------------------------------------------------


def test_html_ok_verdict_and_tables() -> None:
    page = render_html(data=_input())
    assert 'class="verdict ok"' in page
    assert "VERIFICATION OK" in page
    assert "VERIFICATION FAILED" not in page
    assert "Audit report — deal jingjie-2026" in page
    assert SELLER in page
    assert "9f9f9f9f9f9f9f9f…" in page  # root abbreviated
    assert "9f" * 32 not in page
    assert "harbour-capital, pwc-audit" in page
    assert "2026-11-26 09:30:00 UTC" in page
    assert "sha256:" not in page  # subject digests stay out of the report


def test_html_escapes_hostile_strings() -> None:
    page = render_html(data=_input())
    assert "<script>" not in page
    assert escape(HOSTILE_PURPOSE) in page
    assert escape(HOSTILE_ORG) in page


def test_html_failed_verdict_shows_problems_and_first_bad_event() -> None:
    page = render_html(data=_input(verification=_verification_failed()))
    assert 'class="verdict failed"' in page
    assert "VERIFICATION FAILED" in page
    assert "VERIFICATION OK" not in page
    assert "First bad event: #6" in page
    for problem in _verification_failed()["problems"]:
        assert escape(problem) in page
    assert "signed note invalid" in page
    verdict = page[page.index('id="verdict"') : page.index('id="totals"')]
    assert ANALYST in verdict  # the first bad event's row is shown in the verdict box


def test_html_problems_mean_failed_even_if_ok_claimed() -> None:
    page = render_html(data=_input(verification={**_verification_ok(), "problems": ["x"]}))
    assert "VERIFICATION FAILED" in page


def test_html_appendix_keeps_the_last_events() -> None:
    many = [_event(i, "disclose", STEWARD, decision="allow", customers=1) for i in range(250)]
    page = render_html(data=_input(events=many))
    appendix = page[page.index('id="appendix"') :]
    assert f"the last {APPENDIX_EVENTS} of 250 events" in appendix
    assert '<td class="n">249</td>' in appendix
    assert '<td class="n">50</td>' in appendix
    assert '<td class="n">49</td>' not in appendix


def test_naive_generated_at_is_refused() -> None:
    with pytest.raises(Invalid):
        render_html(data=_input(generated_at=datetime(2026, 11, 26)))


# --- PDF ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf() -> bytes:
    if importlib.util.find_spec("weasyprint") is None:
        pytest.fail("weasyprint is not installed (pip install weasyprint)")
    return render_pdf(data=_input(verification=_verification_failed()))


def test_pdf_is_a_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF")


def test_pdf_text_has_title_and_chinese_organisation(pdf: bytes, tmp_path: Path) -> None:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils); PDF text not checked")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode("utf-8")
    assert "Audit report — deal jingjie-2026" in out
    assert SELLER in out
    assert "VERIFICATION FAILED" in out
    pdffonts = shutil.which("pdffonts")
    if pdffonts is not None:  # extractable text alone does not prove the glyphs were drawn
        fonts = subprocess.run(
            [pdffonts, str(path)], check=True, capture_output=True, timeout=60
        ).stdout.decode()
        assert "CJK" in fonts or "WenQuanYi" in fonts, f"no CJK font embedded:\n{fonts}"
