"""The access policy: the whole default matrix through Cedar, validation, tightening, versions."""

from __future__ import annotations

import json
import re

import cedarpy
import pytest
from sqlalchemy import text as sql

from dealvault.access import policy as pol
from dealvault.access import service as access
from dealvault.access.policy_cedar import SCHEMA
from dealvault.access.stages import MemberRole, Stage
from dealvault.audit.store import LogFilter
from dealvault.errors import Conflict, Forbidden, IntegrityError, Invalid
from dealvault.flows import admin, auditing
from dealvault.flows import policy as flows
from dealvault.flows.context import AppStores
from dealvault.ingest.fields import Category
from tests.conftest import OP, SELLER, P, World

# -- the expected matrix, written out from docs/design.md §1 (not derived from the code) -------
STAGES = (
    "preparation",
    "due_diligence",
    "clean_team",
    "signing",
    "closing",
    "post_closing",
    "terminated",
)
N, MD, AG, AN, PS, MK, FU = (
    "none",
    "metadata",
    "aggregate",
    "anonymized",
    "pseudonymized",
    "masked",
    "full",
)
EXPECTED: dict[str, tuple[str, ...]] = {
    #                     prep dd  clean signing closing post term
    "seller_steward":    (FU, FU, FU, FU, FU, N, FU),
    "bidder_business":   (N, AG, AG, AG, AG, N, N),
    "bidder_clean_team": (N, AN, MK, MK, MK, N, N),
    "buyer_receiver":    (N, N, N, N, FU, FU, N),
    "counsel":           (MD, AG, AG, AG, MD, MD, MD),
    "intermediary":      (MD, AG, AG, AG, MD, MD, MD),
    "security_officer":  (MD, MD, MD, MD, MD, MD, MD),
    "auditor":           (N, N, N, N, N, N, N),
}  # fmt: skip
RANK = {
    "none": 0,
    "metadata": 1,
    "aggregate": 2,
    "anonymized": 3,
    "pseudonymized": 4,
    "masked": 5,
    "full": 6,
}
CAPS = {"sensitive": "anonymized", "free_text": "pseudonymized"}
UNCAPPED = {"seller_steward", "buyer_receiver"}
AUDIT_LOG_READERS = {"auditor", "counsel", "seller_steward"}
CATEGORIES = ("identity", "contact", "transaction", "preference", "sensitive", "free_text")
CATEGORY_SETS: tuple[tuple[str, ...], ...] = (
    (),
    *((c,) for c in CATEGORIES),
    ("identity", "sensitive"),
    ("free_text", "contact"),
    CATEGORIES,
)


def expected_ceiling(role: str, stage: str, categories: tuple[str, ...]) -> int:
    top = RANK[EXPECTED[role][STAGES.index(stage)]]
    if role not in UNCAPPED:
        for c in categories:
            if c in CAPS:
                top = min(top, RANK[CAPS[c]])
    return top


def test_the_expected_table_names_every_role_stage_and_category() -> None:
    assert set(EXPECTED) == {r.value for r in MemberRole}
    assert set(STAGES) == {s.value for s in Stage}
    assert set(CATEGORIES) == {c.value for c in Category}
    assert tuple(RANK) == pol.LEVELS


@pytest.mark.parametrize("role", list(EXPECTED))
def test_default_matrix_every_stage_category_level(role: str) -> None:
    policy = pol.default_policy()
    wrong = []
    for stage in STAGES:
        for cats in CATEGORY_SETS:
            top = expected_ceiling(role, stage, cats)
            got = policy.ceiling(role=role, stage=stage, categories=cats)
            if RANK[got] != top:
                wrong.append(f"ceiling {stage} {cats}: {got}, expected rank {top}")
            for level, rank in RANK.items():
                if rank == 0:
                    continue
                ok, reasons = policy.allows(role=role, stage=stage, level=level, categories=cats)
                if ok != (rank <= top):
                    wrong.append(f"{stage} {cats} {level}: {ok} {reasons}")
                assert reasons, (stage, cats, level)
                frozen, why = policy.allows(
                    role=role, stage=stage, level=level, categories=cats, frozen=True
                )
                if frozen:
                    wrong.append(f"frozen {stage} {cats} {level} allowed")
                assert any("frozen" in w for w in why)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_audit_log_readers_at_every_stage_even_frozen(role: str) -> None:
    policy = pol.default_policy()
    for stage in STAGES:
        for frozen in (False, True):
            ok, reasons = policy.allows_audit_log(role=role, stage=stage, frozen=frozen)
            assert ok == (role in AUDIT_LOG_READERS), (stage, frozen, reasons)


def test_ceiling_examples_and_reasons() -> None:
    p = pol.default_policy()
    assert p.ceiling(role="bidder_clean_team", stage="due_diligence") == "anonymized"
    assert p.ceiling(role="bidder_clean_team", stage="clean_team") == "masked"
    assert p.ceiling(role="bidder_clean_team", stage="clean_team", categories=["free_text"]) == (
        "pseudonymized"
    )
    assert p.ceiling(role="bidder_clean_team", stage="signing", categories=["sensitive"]) == (
        "anonymized"
    )
    assert p.ceiling(role="seller_steward", stage="closing", categories=CATEGORIES) == "full"
    assert p.ceiling(role="counsel", stage="closing", categories=["sensitive"]) == "metadata"
    assert p.ceiling(role="auditor", stage="due_diligence") == "none"

    ok, why = p.allows(role="bidder_clean_team", stage="due_diligence", level="masked")
    assert not ok
    assert why == (
        "level masked is above the ceiling anonymized for bidder_clean_team at stage due_diligence",
    )
    ok, why = p.allows(role="bidder_clean_team", stage="due_diligence", level="anonymized")
    assert ok and "[ceiling.bidder_clean_team.due_diligence]" in why[0]
    ok, why = p.allows(
        role="bidder_clean_team", stage="clean_team", level="masked", categories=["sensitive"]
    )
    assert not ok and why == (
        "category sensitive is capped at anonymized for bidder_clean_team; masked asked "
        "[cap.sensitive]",
    )
    ok, why = p.allows(role="bidder_business", stage="preparation", level="metadata")
    assert not ok and why == ("bidder_business gets no data at stage preparation (ceiling none)",)
    assert p.approvals_default == ("seller_steward", "counsel")
    assert p.approvals_sensitive == ("seller_steward", "counsel", "security_officer")
    assert (p.training_course, p.governed_above, p.version) == ("confidentiality", "aggregate", 0)


def test_requests_with_unknown_names_are_invalid() -> None:
    p = pol.default_policy()
    with pytest.raises(Invalid, match="unknown member role 'ceo'"):
        p.ceiling(role="ceo", stage="closing")
    with pytest.raises(Invalid, match="unknown stage 'diligence'"):
        p.allows(role="counsel", stage="diligence", level="metadata")
    with pytest.raises(Invalid, match="unknown category 'health'"):
        p.ceiling(role="counsel", stage="closing", categories=["health"])
    with pytest.raises(Invalid, match="unknown level 'secret'"):
        p.allows(role="counsel", stage="closing", level="secret")
    with pytest.raises(Invalid, match="level none asks for nothing"):
        p.allows(role="counsel", stage="closing", level="none")
    assert pol.level_rank("masked") == 5
    with pytest.raises(Invalid, match="unknown level"):
        pol.level_rank("secret")


def test_the_cedar_text_stands_on_its_own() -> None:
    """The compiled text validates against the schema and decides alone, without our engine."""
    p = pol.default_policy()
    assert cedarpy.validate_policies(p.cedar, SCHEMA).validation_passed
    assert '@id("ceiling.bidder_clean_team.due_diligence")' in p.cedar
    assert "ceiling.auditor." not in p.cedar  # nothing permitted: no permit at all
    entities = [
        {
            "uid": {"type": "Person", "id": "x"},
            "attrs": {"role": "bidder_clean_team"},
            "parents": [],
        },
        {
            "uid": {"type": "Deal", "id": "d"},
            "attrs": {"stage": "clean_team", "frozen": False},
            "parents": [],
        },
    ]

    def ask(rank: int, cats: list[str]) -> bool:
        request = {
            "principal": 'Person::"x"',
            "action": 'Action::"read"',
            "resource": 'Deal::"d"',
            "context": {"level_rank": rank, "categories": cats},
        }
        return cedarpy.is_authorized(request, p.cedar, entities, SCHEMA).allowed

    assert ask(5, []) and not ask(6, [])
    assert ask(4, ["free_text"]) and not ask(5, ["free_text"])


# -- validation -----------------------------------------------------------------------------
def edit(*pairs: tuple[str, str]) -> str:
    text = pol.default_policy().text
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


AUDITOR_TABLE = pol.default_policy().text.split("[ceiling.auditor]")[1].split("\n\n")[0]
DESCRIPTION = next(
    line for line in pol.default_policy().text.splitlines() if line.startswith("description = ")
)
FROZEN_ALLOW = (
    'allow = ["deal.unfreeze", "deal.read", "audit_log", "audit_log.prove", "audit_log.export", '
    '"trace", "alert.read", "alert.ack", "incident.open", "incident.read", "incident.assign", '
    '"incident.note", "incident.close", "incident.task.add", "incident.task.done", '
    '"incident.clock", "incident.notice", "incident.partner_ack"]'
)
ADVANCE = '"deal.advance" = { roles = ["seller_steward"], stages = ["preparation", '


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[policy\nformat = 1", "policy is not valid TOML: "),
        (edit(("[audit_log]\nroles", "[audit]\nroles")), "unknown section [audit]"),
        (edit(("[frozen]\n" + FROZEN_ALLOW + "\n", "")), "missing section [frozen]"),
        (
            edit(("[ceiling.counsel]\npreparation", "[ceiling.counsel]\nprep")),
            "[ceiling.counsel]: unknown stage 'prep'",
        ),
        (edit(('\nterminated = "none"\n\n# ----', "\n\n# ----")),
         "[ceiling.auditor]: missing stage 'terminated'"),
        (edit(("[ceiling.auditor]" + AUDITOR_TABLE, "")),
         "[ceiling]: missing member role 'auditor'"),
        (edit(("[ceiling.auditor]", "[ceiling.ceo]")), "[ceiling]: unknown member role 'ceo'"),
        (
            edit(('due_diligence = "anonymized"', 'due_diligence = "anonymised"')),
            "ceiling.bidder_clean_team.due_diligence: unknown level 'anonymised'",
        ),
        (edit(("[category_caps.free_text]", "[category_caps.health]")),
         "[category_caps]: unknown category 'health'"),
        (edit(('level = "anonymized"', 'level = "hidden"')),
         "category_caps.sensitive.level: unknown level 'hidden'"),
        (edit(('default = ["seller_steward", "counsel"]', 'default = ["cfo"]')),
         "approvals.default: unknown member role 'cfo'"),
        (edit(('default = ["seller_steward", "counsel"]', 'default = ["counsel", "counsel"]')),
         "approvals.default: member role 'counsel' is listed twice"),
        (edit(('sensitive = ["seller_steward", "counsel", ', "sensitive = [")),
         "approvals.sensitive: must include every default approver; add seller_steward"),
        (edit(('roles = ["auditor"', 'roles = ["janitor"')),
         "audit_log.roles: unknown member role 'janitor'"),
        (edit((FROZEN_ALLOW, 'allow = ["deal.unfreeze", "write"]')),
         "frozen.allow: unknown action 'write'"),
        (edit((FROZEN_ALLOW, 'allow = ["deal.read"]')),
         "frozen.allow: must include deal.unfreeze (else a freeze can never end)"),
        (edit((FROZEN_ALLOW, 'actions = ["read"]')), "[frozen]: unknown key 'actions'"),
        (edit(("format = 2", "format = 1")), "policy.format: unsupported format 1"),
        (edit(("format = 2", 'format = 2\nowner = "x"')), "[policy]: unknown key 'owner'"),
        (edit(("[actions]\n", "[actionz]\n")), "unknown section [actionz]"),
        (edit((ADVANCE, '"deal.go" = { roles = ["seller_steward"], stages = ["preparation", ')),
         "[actions]: unknown action 'deal.go'"),
        (edit((ADVANCE, '"deal.advance" = { roles = ["ceo"], stages = ["preparation", ')),
         "actions.deal.advance.roles: unknown role 'ceo'"),
        (edit((ADVANCE, '"deal.advance" = { roles = ["seller_steward"], stages = ["prep", ')),
         "actions.deal.advance.stages: unknown stage 'prep'"),
        (edit(('"org.create" = { roles = ["operator"] }',
               '"org.create" = { roles = ["operator"], stages = ["*"] }')),
         "actions.org.create: unknown key 'stages'"),
        (edit(('"org.create" = { roles = ["operator"] }', '"org.create" = { who = ["operator"] }')),
         "actions.org.create: unknown key 'who'"),
        (edit(('training_course = "confidentiality"\n', "")),
         "[policy]: missing key 'training_course'"),
        (
            edit((DESCRIPTION,
                  'description = "x\\npermit (principal, action, resource);"')),
            "policy.description: must be one line",
        ),
        (edit(("[policy]\n", "audit_log = 3\n[policy]\n"),
              ('[audit_log]\nroles = ["auditor", "counsel", "seller_steward"]\n', "")),
         "[audit_log]: must be a table, not int"),
        (edit(('default = ["seller_steward", "counsel"]', 'default = "counsel"')),
         "approvals.default: must be a list of member roles"),
    ],
)  # fmt: skip
def test_validation_errors_name_section_and_key(text: str, message: str) -> None:
    with pytest.raises(Invalid) as info:
        pol.parse_policy(text)
    assert message in str(info.value)


def test_loosening_is_refused_tightening_accepted() -> None:
    looser = pol.parse_policy(
        edit(('[ceiling.bidder_business]\npreparation = "none"\ndue_diligence = "aggregate"',
              '[ceiling.bidder_business]\npreparation = "none"\ndue_diligence = "full"'))
    )  # fmt: skip
    problems = pol.loosenings(looser, baseline=pol.default_policy())
    assert problems == ["bidder_business at due_diligence: full is above aggregate"]
    with pytest.raises(Invalid, match="may only tighten") as info:
        pol.require_tightening(looser)
    assert info.value.code == "policy_loosens"

    uncapped = pol.parse_policy(edit(('level = "anonymized"', 'level = "full"')))
    assert "bidder_clean_team at clean_team for sensitive: masked is above anonymized" in (
        pol.loosenings(uncapped, baseline=pol.default_policy())
    )
    fewer = pol.parse_policy(
        edit(
            ('default = ["seller_steward", "counsel"]', 'default = ["seller_steward"]'),
            ('governed_above = "aggregate"', 'governed_above = "anonymized"'),
            ('roles = ["auditor", "counsel"', 'roles = ["auditor", "counsel", "intermediary"'),
            (FROZEN_ALLOW, 'allow = ["deal.unfreeze", "deal.read", "audit_log", "trace", "read"]'),
            (ADVANCE, '"deal.advance" = { roles = ["seller_steward", "bidder_business"], '
                      'stages = ["post_closing", "preparation", '),
        )
    )  # fmt: skip
    assert pol.loosenings(fewer, baseline=pol.default_policy()) == [
        "approvals.default drops counsel",
        "policy.governed_above: anonymized is above aggregate",
        "audit_log.roles adds intermediary",
        "frozen.allow adds read",
        "actions.deal.advance adds role bidder_business",
        "actions.deal.advance adds stage post_closing",
    ]
    with pytest.raises(Invalid, match=r"actions\.deal\.advance adds role bidder_business"):
        pol.require_tightening(fewer)
    # an action may be taken by fewer roles at fewer stages: that tightens
    fewer_actions = pol.parse_policy(
        edit(
            (ADVANCE, '"deal.advance" = { roles = [], stages = ["preparation", '),
            ('"org.create" = { roles = ["operator"] }', '"org.create" = { roles = [] }'),
        )
    )  # fmt: skip
    assert pol.loosenings(fewer_actions, baseline=pol.default_policy()) == []
    assert fewer_actions.allows_action(
        action="deal.advance", roles=["seller_steward"], stage="preparation"
    ) == (False, ("deal.advance needs one of the roles: nobody (held: seller_steward)",))
    tighter = pol.parse_policy(TIGHTER)
    assert pol.loosenings(tighter, baseline=pol.default_policy()) == []
    assert tighter.ceiling(role="bidder_clean_team", stage="clean_team") == "pseudonymized"


TIGHTER = edit(
    ('clean_team = "masked"           # masked', 'clean_team = "pseudonymized"    # masked'),
    (FROZEN_ALLOW, 'allow = ["deal.unfreeze", "deal.read", "trace"]'),  # no audit log when frozen
)  # fmt: skip


# -- versions through the flows -------------------------------------------------------------
def _changes(stores: AppStores, world: World, deal: str | None = None) -> list[dict[str, object]]:
    """The deal's policy.change events, read by its steward (an audit_log role)."""
    return auditing.log(
        stores,
        actor=P(world.steward),
        flt=LogFilter(action="policy.change", deal=deal or world.deal),
    )


def test_set_policy_stores_a_version_and_audits_it(stores: AppStores, world: World) -> None:
    steward = P(world.steward)
    shown = flows.show_policy(stores, actor=steward, deal=world.deal)
    assert (shown.version, shown.source, shown.deal) == (0, "shipped default", world.deal)
    assert shown.matrix["bidder_clean_team"]["clean_team"] == "masked"
    default_sha = shown.sha256
    assert default_sha == flows.shipped_policy().sha256

    v1 = flows.set_policy(
        stores, actor=steward, deal=world.deal, text=TIGHTER, comment="clean team: pseudo"
    )
    assert (v1.version, v1.actor, v1.in_force) == (1, world.steward, True)
    with stores.records_session() as s:
        active = pol.active_policy(s, deal=access.get_deal(s, code=world.deal))
        assert pol.active_policy(s, deal=None).version == 0  # store actions: the shipped one
    assert active.version == 1 and active.sha256 == v1.sha256
    assert active.ceiling(role="bidder_clean_team", stage="clean_team") == "pseudonymized"
    ok, why = active.allows(role="bidder_clean_team", stage="clean_team", level="masked")
    assert not ok and "above the ceiling pseudonymized" in why[0]
    assert not active.allows_audit_log(role="auditor", stage="closing", frozen=True)[0]

    shown = flows.show_policy(stores, actor=steward, deal=world.deal, cedar=True)
    assert (shown.version, shown.source, shown.actor) == (1, "stored", world.steward)
    assert shown.comment == "clean team: pseudo" and shown.cedar and "forbid" in shown.cedar
    check = flows.check_policy(
        stores, actor=steward, deal=world.deal, role="bidder_clean_team", stage="clean_team"
    )
    assert (check.policy_version, check.ceiling) == (1, "pseudonymized")
    # the pure check of a policy gives the same answer without the store
    assert flows.check(active, role="bidder_clean_team", stage="clean_team") == check

    events = _changes(stores, world)
    assert len(events) == 1
    ev = events[0]
    assert ev["actor"] == world.steward and ev["purpose"] == "clean team: pseudo"
    assert (ev["decision"], ev["deal"], ev["authn"]) == ("allow", world.deal, "local")
    assert ev["objects"] == {
        "old_version": 0,
        "old_sha256": default_sha,
        "new_version": 1,
        "new_sha256": v1.sha256,
    }

    with pytest.raises(Conflict, match="already in force for clean-2026 as version 1"):
        flows.set_policy(stores, actor=steward, deal=world.deal, text=TIGHTER, comment="again")
    tightest = TIGHTER.replace('due_diligence = "anonymized"', 'due_diligence = "aggregate"')
    v2 = flows.set_policy(
        stores, actor=steward, deal=world.deal, text=tightest, comment="no records in dd"
    )
    assert v2.version == 2
    history = flows.policy_history(stores, actor=steward, deal=world.deal)
    assert [(h.version, h.in_force) for h in history] == [(1, False), (2, True)]
    events = _changes(stores, world)
    assert events[-1]["objects"]["old_version"] == 1
    assert events[-1]["objects"]["old_sha256"] == v1.sha256


def test_only_a_steward_may_change_it_and_refusals_are_recorded(
    stores: AppStores, world: World
) -> None:
    with pytest.raises(
        Forbidden, match=r"policy\.set needs one of the roles: seller_steward \(held: bidder"
    ):
        flows.set_policy(
            stores, actor=P(world.bidder_person), deal=world.deal, text=TIGHTER, comment="mine now"
        )
    denied = _changes(stores, world)
    assert [(e["actor"], e["decision"]) for e in denied] == [(world.bidder_person, "deny")]
    assert "policy.set needs one of the roles: seller_steward" in denied[0]["reasons"][0]
    loose = TIGHTER.replace(
        'post_closing = "none"           # the seller', 'post_closing = "full" #'
    )
    with pytest.raises(Invalid, match="seller_steward at post_closing: full is above none"):
        flows.set_policy(
            stores, actor=P(world.steward), deal=world.deal, text=loose, comment="keep a copy"
        )
    assert flows.policy_history(stores, actor=P(world.steward), deal=world.deal) == []
    assert len(_changes(stores, world)) == 1
    admin.create_person(
        stores, actor=OP, email="x@other.example", name="X", organization="Bidder B"
    )
    with pytest.raises(Forbidden, match=r"x@other\.example is not a member of deal clean-2026"):
        flows.set_policy(
            stores, actor=P("x@other.example"), deal=world.deal, text=TIGHTER, comment=None
        )
    # the operator runs the store, not the deal: no policy change either
    with pytest.raises(Forbidden, match=r"policy\.set needs one of the roles: seller_steward"):
        flows.set_policy(stores, actor=OP, deal=world.deal, text=TIGHTER, comment=None)
    assert [(e["actor"], e["decision"]) for e in _changes(stores, world)] == [
        (world.bidder_person, "deny"),
        ("x@other.example", "deny"),
        (world.operator, "deny"),
    ]
    assert flows.show_policy(stores, actor=P(world.steward), deal=world.deal).version == 0


def test_a_policy_is_scoped_to_its_deal(stores: AppStores, world: World) -> None:
    """Being steward of one deal gives no power over another: its policy is its own."""
    other_steward = "steward2@seller.example"
    admin.create_person(stores, actor=OP, email=other_steward, name="Second", organization=SELLER)
    admin.create_deal(
        stores,
        actor=OP,
        code="side-2026",
        name="Another sale",
        kind="asset",
        seller=SELLER,
        bidders=["Bidder B"],
        stewards=[other_steward],
    )
    mine = flows.set_policy(
        stores, actor=P(other_steward), deal="side-2026", text=TIGHTER, comment="mine"
    )
    assert mine.version == 1
    # the first deal keeps the shipped default, and its history is empty
    assert flows.show_policy(stores, actor=P(world.steward), deal=world.deal).version == 0
    assert flows.policy_history(stores, actor=P(world.steward), deal=world.deal) == []
    with stores.records_session() as s:
        side = pol.active_policy(s, deal=access.get_deal(s, code="side-2026"))
        clean = pol.active_policy(s, deal=access.get_deal(s, code=world.deal))
    assert (side.version, clean.version) == (1, 0)
    assert clean.ceiling(role="bidder_clean_team", stage="clean_team") == "masked"
    # the other deal's steward may neither change nor read the first deal's policy
    for fn in (
        lambda: flows.set_policy(
            stores, actor=P(other_steward), deal=world.deal, text=TIGHTER, comment="lock out"
        ),
        lambda: flows.show_policy(stores, actor=P(other_steward), deal=world.deal),
        lambda: flows.policy_history(stores, actor=P(other_steward), deal=world.deal),
    ):
        with pytest.raises(
            Forbidden, match=f"{re.escape(other_steward)} is not a member of deal clean-2026"
        ):
            fn()
    changes = _changes(stores, world)
    assert [(e["actor"], e["decision"]) for e in changes] == [(other_steward, "deny")]
    # version numbers are per deal too
    again = flows.set_policy(
        stores, actor=P(world.steward), deal=world.deal, text=TIGHTER, comment="same text"
    )
    assert again.version == 1


def test_the_default_can_be_pinned_and_tampering_is_detected(
    stores: AppStores, world: World
) -> None:
    text = pol.default_policy().text
    steward = P(world.steward)
    pinned = flows.set_policy(stores, actor=steward, deal=world.deal, text=text, comment="pin")
    assert pinned.version == 1
    with stores.unit_of_work() as uow:
        uow.records.execute(
            sql("UPDATE policy_versions SET text = :t WHERE version = 1"),
            {"t": text.replace('due_diligence = "aggregate"', 'due_diligence = "full"', 1)},
        )
    with pytest.raises(IntegrityError, match="does not match its sha256"):
        flows.show_policy(stores, actor=steward, deal=world.deal)


def test_show_and_validate_views() -> None:
    out = flows.validate_policy(text=TIGHTER, cedar=True)
    assert out.source == "file" and out.cedar is not None
    assert {c.category: c.level for c in out.category_caps} == CAPS
    doc = json.loads(out.model_dump_json())
    assert doc["matrix"]["auditor"] == dict.fromkeys(STAGES, "none")
    assert doc["frozen_allow"] == ["deal.unfreeze", "deal.read", "trace"]
    assert doc["actions"]["policy.set"]["roles"] == ["seller_steward"]
    assert doc["actions"]["keys.rotate_master"] == {
        "roles": ["operator"],
        "stages": [],
        "help": "rotate the master key (rewraps every dataset key)",
    }
    shipped = flows.shipped_policy()
    assert (shipped.version, shipped.source, shipped.deal) == (0, "shipped default", None)
    assert shipped.frozen_allow == [
        "deal.unfreeze", "deal.read", "audit_log", "audit_log.prove", "audit_log.export", "trace",
        "alert.read", "alert.ack", "incident.open", "incident.read", "incident.assign",
        "incident.note", "incident.close", "incident.task.add", "incident.task.done",
        "incident.clock", "incident.notice", "incident.partner_ack",
    ]  # fmt: skip
