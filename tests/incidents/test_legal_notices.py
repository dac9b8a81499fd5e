"""Notices to the authority and the customers: every field the article requires, facts from
the impact analysis and the rest from the team's answers file; finalise refuses a missing
field by name; mark-sent stops the clock; the audit log never holds the text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Forbidden, InputError, Invalid
from dealvault.flows import incident_notices as notices
from dealvault.flows import incidents, legal_clocks
from dealvault.flows.context import AppStores
from dealvault.fonts import cjk_fonts
from dealvault.incidents import legal_notices as texts
from dealvault.incidents import notice_records as records
from tests.conftest import P
from tests.incidents.conftest import ANALYST, COUNSEL, ROWS, SECURITY, Scene, release

ANSWERS = {
    "handler": "洁净日化有限公司",
    "cause": "外部人员获取了竞购方的副本",
    "harm": "可能收到诈骗电话",
    "measures_taken": "冻结交易，撤销访问",
    "individual_steps": "警惕冒充客服的来电",
    "contact": "security@seller.example，400-000-0000",
    "controller": "Clean Chemicals Ltd",
    "nature": "A copy of customer data given to a bidder was seen outside.",
    "dpo_contact": "dpo@seller.example",
    "consequences": "Unsolicited calls or phishing.",
    "measures": "The deal was frozen and access revoked.",
    "delay_reasons": "The copy was found after the weekend.",
}
REQUIRED = {
    "pipl-authority": {"handler", "categories", "cause", "harm", "measures_taken",
                       "individual_steps", "contact"},
    "pipl-customers": {"handler", "categories", "cause", "harm", "measures_taken",
                       "individual_steps", "contact"},
    "gdpr-authority": {"controller", "nature", "categories", "data_subjects", "records",
                       "dpo_contact", "consequences", "measures"},
    "gdpr-subjects": {"controller", "nature", "categories", "dpo_contact", "consequences",
                      "measures", "individual_steps"},
}  # fmt: skip


def _incident(stores: AppStores, keyring: KeyRing, scene: Scene) -> int:
    release(stores, keyring, scene.world, "Bidder A")
    inc = incidents.open_incident(stores, actor=P(SECURITY), title="t", alert_ids=[scene.alert])
    return inc.id


@pytest.mark.parametrize("kind", sorted(REQUIRED))
def test_every_required_field_of_each_kind(kind: str) -> None:
    assert {f.key for f in texts.fields(kind, late=False)} == REQUIRED[kind]
    assert {f.key for f in texts.fields("gdpr-authority", late=True)} == (
        REQUIRED["gdpr-authority"] | {"delay_reasons"}
    )
    impact = {"customers": 12, "by_category": {"contact": 12, "identity": 12},
              "by_sensitivity": {"sensitive": 3}, "minors": 0}  # fmt: skip
    facts = texts.facts_of(impact, kind=kind)
    assert texts.missing(kind, facts=facts, answers=ANSWERS, late=True) == []
    for key in REQUIRED[kind] - set(facts):
        less = {k: v for k, v in ANSWERS.items() if k != key}
        assert texts.missing(kind, facts=facts, answers=less, late=False) == [key]
    html = texts.render_html(kind=kind, incident=1, deal="d", facts=facts, answers=ANSWERS,
                             late=False, aware_at=utcnow(), at=utcnow(), draft=False)  # fmt: skip
    for f in texts.fields(kind, late=False):
        assert f.label in html and f.article in html
    assert ("个人信息" in html) == kind.startswith("pipl")
    assert texts.missing(kind, facts={}, answers=ANSWERS, late=False) == ["categories"] + (
        ["data_subjects", "records"] if kind == "gdpr-authority" else []
    )


def test_an_answers_file_is_checked_by_key_never_by_value() -> None:
    assert texts.parse_answers('cause = "x"\nharm = ""\n', file="a.toml") == {"cause": "x"}
    with pytest.raises(InputError, match=r"a.toml, column 'secret'.*unknown key"):
        texts.parse_answers('secret = "13912345678"\n', file="a.toml")
    with pytest.raises(InputError, match="a key that is no field") as odd:
        texts.parse_answers('13912345678 = "x"\n', file="a.toml")
    assert "13912345678" not in str(odd.value)
    with pytest.raises(InputError, match=r"column 'cause': must be text"):
        texts.parse_answers("cause = 13912345678\n", file="a.toml")
    with pytest.raises(InputError, match="not valid TOML") as exc:
        texts.parse_answers('cause = "13912345678\n', file="a.toml")
    assert "13912345678" not in str(exc.value)


def test_draft_finalise_send_stops_the_clock(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    sec = P(SECURITY)
    inc = _incident(stores, keyring, scene)
    less = {k: v for k, v in ANSWERS.items() if k not in ("cause", "contact")}
    draft = notices.draft_notice(stores, actor=sec, incident_id=inc, kind="pipl-authority",
                                 answers=less)  # fmt: skip
    assert (draft.status, draft.missing, draft.language) == ("draft", ["cause", "contact"], "zh")
    with pytest.raises(Invalid, match=r"misses required field\(s\): cause, contact"):
        notices.finalise_notice(stores, actor=sec, notice_id=draft.id)
    assert notices.show_notice(stores, actor=sec, notice_id=draft.id).status == "draft"
    with pytest.raises(Conflict, match="only a final legal notice"):
        notices.mark_sent(stores, actor=sec, notice_id=draft.id, at=utcnow(), channel="portal")
    good = notices.draft_notice(stores, actor=sec, incident_id=inc, kind="pipl-authority",
                                answers=ANSWERS)  # fmt: skip
    final = notices.finalise_notice(stores, actor=sec, notice_id=good.id)
    assert final.status == "final" and final.body is not None
    assert "涉及个人 12 人" in final.body and "草稿" not in final.body
    assert ANSWERS["cause"] in final.body
    with pytest.raises(Invalid, match="not in the future"):
        notices.mark_sent(stores, actor=sec, notice_id=good.id,
                          at=utcnow() + timedelta(hours=1), channel="portal")  # fmt: skip
    with pytest.raises(Invalid, match="one word") as exc:
        notices.mark_sent(stores, actor=sec, notice_id=good.id, at=utcnow(),
                          channel="dpo@authority.example")  # fmt: skip
    assert "dpo@" not in str(exc.value)
    sent_at = utcnow() - timedelta(minutes=5)
    out = notices.mark_sent(stores, actor=sec, notice_id=good.id, at=sent_at, channel="portal")
    assert (out.status, out.channel, out.sent_at) == ("sent", "portal", sent_at)
    clocks = {c.id: c for c in legal_clocks.show_clocks(stores, actor=sec, incident_id=inc)}
    assert clocks["pipl-authority"].state == "met"
    assert clocks["pipl-authority"].notice_id == good.id
    assert clocks["pipl-customers"].state == "running"
    assert [n.id for n in notices.list_notices(stores, actor=sec, incident_id=inc)] == [
        draft.id, good.id
    ]  # fmt: skip
    for who in (COUNSEL, ANALYST):
        with pytest.raises(Forbidden):
            notices.draft_notice(stores, actor=P(who), incident_id=inc, kind="gdpr-subjects")
        with pytest.raises(Forbidden):
            notices.show_notice(stores, actor=P(who), notice_id=good.id)
    with stores.records_session() as s:
        bodies = s.scalars(select(AuditEvent.body).where(AuditEvent.action.like("incident.%")))
        text = "\n".join(b.decode() if isinstance(b, bytes) else str(b) for b in bodies)
    for value in (*ANSWERS.values(), *(v for r in ROWS for v in r.values() if len(v) > 4)):
        assert value not in text
    assert '"kind":"pipl-authority"' in text.replace(" ", "")


def test_a_late_gdpr_authority_notice_needs_the_reasons_for_the_delay(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    sec = P(SECURITY)
    inc = _incident(stores, keyring, scene)
    legal_clocks.set_awareness(stores, actor=sec, incident_id=inc,
                               aware_at=utcnow() - timedelta(hours=73), reason="r")  # fmt: skip
    less = {k: v for k, v in ANSWERS.items() if k != "delay_reasons"}
    late = notices.draft_notice(stores, actor=sec, incident_id=inc, kind="gdpr-authority",
                                answers=less)  # fmt: skip
    assert late.missing == ["delay_reasons"]
    ok = notices.draft_notice(stores, actor=sec, incident_id=inc, kind="gdpr-authority",
                              answers=ANSWERS)  # fmt: skip
    body = notices.finalise_notice(stores, actor=sec, notice_id=ok.id).body or ""
    assert "Reasons for the delay" in body and "Approximate number of data subjects" in body
    with pytest.raises(Invalid, match="unknown notice kind"):
        notices.draft_notice(stores, actor=sec, incident_id=inc, kind="ccpa")


def test_pdf_output(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("weasyprint")
    for kind in ("gdpr-subjects", "pipl-customers"):
        now = utcnow()
        html = texts.render_html(kind=kind, incident=1, deal="d", facts={}, answers=ANSWERS,
                                 late=False, aware_at=now, at=now, draft=True)  # fmt: skip
        if kind.startswith("pipl") and not cjk_fonts():
            continue
        assert texts.html_to_pdf(html).startswith(b"%PDF")
    monkeypatch.setattr(texts, "cjk_fonts", lambda: [])  # no Chinese font: refused, not boxes
    with pytest.raises(Invalid, match="no Chinese font"):
        texts.html_to_pdf(html)


def test_a_drill_drafts_the_regimes_notices_and_a_report_lists_them(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    sec = P(SECURITY)
    inc = _incident(stores, keyring, scene)
    legal_clocks.set_regimes(stores, actor=sec, incident_id=inc, regimes=["pipl", "gdpr"])
    said = notices.draft_for_regimes(stores, actor=sec, incident_id=inc)
    assert said.count("#") == 4 and "pipl-authority" in said and "gdpr-subjects" in said
    with stores.records_session() as s:
        lines = records.notice_lines(s, incident_id=inc)
    assert [(x["audience"], x["status"]) for x in lines] == [
        ("authority", "draft"), ("customers", "draft"), ("authority", "draft"),
        ("customers", "draft"),
    ]  # fmt: skip
