"""The content review: a plan handing over free text needs a review of the notes that is not
stale; listed words and other people's personal data in notes block it; a plan without free
text is not concerned; the word list is a versioned file (a bad one named with its line);
bidders may not review; what is stored and audited holds counts, never a value."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.compliance.content_models import ComplianceReview
from dealvault.compliance.content_words import load_words, shipped_words
from dealvault.compliance.rules import PlanFacts, evaluate
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Forbidden, InputError
from dealvault.flows import admin, agreements, compliance
from dealvault.flows import transfer as flows
from dealvault.flows.compliance_review import review_plan
from dealvault.flows.context import AppStores
from dealvault.vault.models import CustomerRecord
from tests.conftest import OP, STEWARD, P, World
from tests.transfer.test_plans import BUYER, COUNSEL, OFFICER, SELLER, identity, set_status
from tests.vault.helpers import HEADERS, customer_row, do_import, write_csv

NOTE = "备注"
CONTENT = {"content-review", "content-unlawful", "third-party-pi"}
OTHER_PHONE = "13812345678"
WORD = "网上赌场"


def _rows(notes: dict[int, str], n: int = 8, start: int = 1) -> list[dict[str, str]]:
    return [customer_row(i, **{NOTE: notes.get(i, "")}) for i in range(start, start + n)]


def _import(
    stores: AppStores, keyring: KeyRing, world: World, path: Path, rows: list[dict[str, str]]
) -> None:
    csv = write_csv(path, rows, headers=[*HEADERS, NOTE])
    do_import(stores, keyring, csv, actor=P(world.steward), deal=world.deal,
              rejects_dir=path.parent)  # fmt: skip


def _prepare(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path, notes: dict[int, str]
) -> None:
    """tests/transfer/test_plans.py prepare(), with a notes column: approvers, customers, the
    deal at closing, a transfer agreement."""
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=world.deal, organization="Law LLP", role="counsel")
    for email, org, role in ((COUNSEL, "Law LLP", "counsel"),
                             (OFFICER, SELLER, "security_officer")):  # fmt: skip
        admin.create_person(stores, actor=OP, email=email, name="X", organization=org)
        admin.add_member(stores, actor=OP, deal=world.deal, email=email, role=role)
    _import(stores, keyring, world, tmp_path / "crm.csv", _rows(notes))
    for to in ("due_diligence", "signing", "closing"):
        admin.advance_deal(stores, code=world.deal, to=to, actor=P(world.steward), reason=None,
                           winner=BUYER if to == "closing" else None)  # fmt: skip
    agreements.add_agreement(
        stores, actor=P(world.steward), deal=world.deal, organization=BUYER, kind="transfer",
        title="Asset transfer agreement", effective=date.today() - timedelta(days=1),
    )  # fmt: skip


def _plan(stores: AppStores, world: World, categories: list[str]) -> int:
    return flows.create_plan(
        stores, actor=P(world.steward), deal=world.deal, dataset="crm", recipient=BUYER,
        recipients=[str(identity().to_public())], categories=categories,
        purpose="hand-over of the customer base at closing",
    ).id  # fmt: skip


def _open(stores: AppStores, plan: int) -> dict[str, dict[str, int]]:
    out = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan)
    return {f.rule: f.counts for f in out.findings if f.rule in CONTENT and f.status == "open"}


def _facts(**over: object) -> PlanFacts:
    base: dict[str, object] = {
        "plan_id": 7, "deal": "d", "deal_kind": "asset", "dataset": "crm", "recipient": "Buyer",
        "categories": ("identity", "free_text"), "purpose": "hand-over of the customer base",
        "eligible": 10,
    }  # fmt: skip
    return PlanFacts(**{**base, **over})  # type: ignore[arg-type]


def _rules(facts: PlanFacts) -> set[str]:
    return {f.rule for f in evaluate(facts)} & CONTENT


def test_each_content_rule_on_both_sides() -> None:
    assert _rules(_facts()) == {"content-review"}  # free text, never reviewed
    assert _rules(_facts(categories=("identity", "contact"))) == set()
    assert _rules(_facts(eligible=0)) == set()
    assert _rules(_facts(content_reviewed=True)) == set()
    assert _rules(_facts(content_reviewed=True, content_stale=True)) == {"content-review"}
    found = evaluate(_facts(content_reviewed=True, content_words={"gambling": 2},
                            content_third_party={"phone": 1}))  # fmt: skip
    by = {f.rule: f for f in found}
    assert set(by) & CONTENT == {"content-unlawful", "third-party-pi"}
    assert dict(by["content-unlawful"].counts) == {"gambling": 2}
    assert dict(by["third-party-pi"].counts) == {"phone": 1}
    for f in (by["content-unlawful"], by["third-party-pi"]):
        assert f.blocking and "leave free_text out of the plan" in f.message
        assert "counsel waives" in f.message and "import it again" in f.message
    assert by["content-unlawful"].source == "PIPL art. 10; 网络信息内容生态治理规定 art. 6, 7"
    assert by["third-party-pi"].source == "PIPL art. 13, 23"
    # without free text in the plan the review's findings do not concern it
    assert _rules(_facts(categories=("identity",), content_reviewed=True,
                         content_words={"gambling": 2})) == set()  # fmt: skip


def test_the_shipped_word_list_loads() -> None:
    words = shipped_words()
    assert {"gambling", "drugs", "pornography", "fraud", "violence"} <= set(words.words)
    assert words.version and len(words.sha256) == 64
    assert "赌博" in words.words["gambling"] and "online casino" in words.words["gambling"]
    assert all(w == w.lower() for ws in words.words.values() for w in ws)
    assert load_words(None) == words


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('version = "1"\n[categories.x]\nwords = [a]\n', "line 3"),  # TOML syntax
        ('version = "1"\n[categories.x]\nwords = ["a"\n', "line 3"),  # at the end
        ('version = "1"\n\n[categories.Bad]\nwords = ["a"]\n', "line 3"),
        ('version = "1"\n[categories.x]\ntitle = "X"\nwords = []\n', "line 2"),
        ('version = "1"\n[categories.x]\nwords = ["a", ""]\n', "line 2"),
        ('version = "one two"\n[categories.x]\nwords = ["a"]\n', "line 1"),
        ('version = "1"\ncolour = "red"\n[categories.x]\nwords = ["a"]\n', "line 2"),
        ('version = "1"\n', "no [categories"),
        ("", "version"),
    ],
)
def test_a_bad_word_list_is_named_with_its_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "counsel-words.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InputError, match=r"counsel-words\.toml") as err:
        load_words(path)
    assert says in str(err.value)
    with pytest.raises(InputError, match="file not found"):
        load_words(tmp_path / "missing.toml")


def test_review_finds_words_and_other_peoples_data(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    own = customer_row(1)["手机号"]
    notes = {
        1: f"客户本人电话 +86 {own[:3]}-{own[3:7]}-{own[7:]}，很满意",  # the customer's own phone
        2: f"她朋友的电话是{OTHER_PHONE}，周末再联系",  # another person's phone
        3: f"客户咨询{WORD}推广，已拒绝",  # a listed word
        4: "Customer asked about ONLINE CASINO offers",  # listed, another case
    }
    _prepare(stores, keyring, world, tmp_path, notes)
    with_text = _plan(stores, world, ["identity", "contact", "free_text"])
    without = _plan(stores, world, ["identity", "contact"])

    assert set(_open(stores, with_text)) == {"content-review"}  # never reviewed
    assert _open(stores, without) == {}  # no free text: nothing to review

    out = review_plan(stores, keyring, actor=P(STEWARD), plan_id=with_text,
                      words=shipped_words(), workers=1)  # fmt: skip
    assert (out.columns, out.customers) == (1, 8)
    assert out.words["gambling"] == 2 and sum(out.words.values()) == 2
    assert out.third_party == {"phone": 1}
    assert out.affected == 3
    found = _open(stores, with_text)
    assert found == {"content-unlawful": {"gambling": 2}, "third-party-pi": {"phone": 1}}

    # the officer may review too; a plan without free text is reviewed without reading notes
    none = review_plan(stores, keyring, actor=P(OFFICER), plan_id=without,
                       words=shipped_words(), workers=1)  # fmt: skip
    assert (none.columns, none.customers, none.affected) == (0, 0, 0)
    assert _open(stores, without) == {}

    # a custom list: only its words count, and the review records its version and hash
    custom = tmp_path / "counsel.toml"
    custom.write_text('version = "deal-1"\n[categories.tobacco]\ntitle = "T"\n'
                      'words = ["香烟"]\n', "utf-8")  # fmt: skip
    mine = review_plan(stores, keyring, actor=P(STEWARD), plan_id=with_text,
                       words=load_words(custom), workers=1)  # fmt: skip
    assert (mine.words, mine.words_version) == ({"tobacco": 0}, "deal-1")
    assert mine.words_sha256 != out.words_sha256
    assert set(_open(stores, with_text)) == {"third-party-pi"}

    # the dataset changes (a new import): the review is stale
    review_plan(stores, keyring, actor=P(STEWARD), plan_id=with_text, words=shipped_words(),
                workers=1)  # fmt: skip
    _import(stores, keyring, world, tmp_path / "more.csv", _rows({}, n=1, start=40))
    assert _open(stores, with_text)["content-review"] == {"reviewed": 1, "stale": 1}
    review_plan(stores, keyring, actor=P(STEWARD), plan_id=with_text, words=shipped_words(),
                workers=1)  # fmt: skip
    assert "content-review" not in _open(stores, with_text)
    # an opted-out customer changes what the plan hands over: stale again
    with stores.records_session() as s:
        first = s.scalars(select(CustomerRecord.subject_id).order_by(CustomerRecord.id)).first()
    assert first is not None
    set_status(stores, first, "opted_out")
    assert "content-review" in _open(stores, with_text)

    # stored and audited: counts only, never a note, a word found nor a value
    columns = ComplianceReview.__table__.columns
    with stores.records_session() as s:
        stored = [
            json.dumps({c.name: str(getattr(r, c.name)) for c in columns}, ensure_ascii=False)
            for r in s.scalars(select(ComplianceReview))
        ]  # fmt: skip
        bodies = [json.loads(b) for b in s.scalars(
            select(AuditEvent.body).where(AuditEvent.action == "compliance.review"))]  # fmt: skip
    assert len(stored) == 5 and len(bodies) == 5
    review = bodies[0]
    assert review["counts"]["words.gambling"] == 2 and review["counts"]["third_party.phone"] == 1
    assert review["objects"]["plan"] == with_text
    text = json.dumps(bodies, ensure_ascii=False) + "".join(stored)
    for value in (own, OTHER_PHONE, WORD, "casino", "CASINO", customer_row(2)["姓名"],
                  customer_row(1)["邮箱"], *notes.values()):  # fmt: skip
        assert value not in text


def test_bidders_and_counsel_may_not_review(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _prepare(stores, keyring, world, tmp_path, {1: f"朋友电话{OTHER_PHONE}"})
    plan = _plan(stores, world, ["identity", "contact", "free_text"])
    for who in (world.bidder_person, COUNSEL):
        with pytest.raises(Forbidden):
            review_plan(stores, keyring, actor=P(who), plan_id=plan, words=shipped_words(),
                        workers=1)  # fmt: skip
    with stores.records_session() as s:
        assert s.scalars(select(ComplianceReview)).first() is None
        denied = list(s.scalars(select(AuditEvent.body).where(
            AuditEvent.action == "compliance.review")))  # fmt: skip
    assert {json.loads(b)["actor"] for b in denied} == {world.bidder_person, COUNSEL}
    assert all(json.loads(b)["decision"] == "deny" for b in denied)
