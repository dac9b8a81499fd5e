"""Consent records: the file checked row by row (errors name row and column, never the
value), customers matched by their customer number through the blind index, re-imports
update a consent, the gate's consent rules on both sides, and a package of an asset transfer
leaving out the customers without a separate consent, counted in the manifest with the
marketing restriction."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyrage
import pytest
from sqlalchemy import select, update

from dealvault.access.models import Deal
from dealvault.audit.models import AuditEvent
from dealvault.compliance.report import render_html
from dealvault.compliance.rules import PlanFacts, evaluate
from dealvault.compliance.rules_consent import ConsentFacts
from dealvault.consent.records import read_consent_file
from dealvault.crypto.keyring import KeyRing
from dealvault.documents import render_as
from dealvault.errors import Forbidden, InputError
from dealvault.flows import compliance
from dealvault.flows import packages as pkg_flows
from dealvault.flows.consent import consent_summary, import_consents
from dealvault.flows.context import AppStores
from dealvault.transfer.manifest import MANIFEST_FILE, RECORDS_FILE
from dealvault.transfer.reconcile import verify_package
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import COUNSEL, approved_plan, prepare
from tests.vault.helpers import customer_row, do_import, ric, write_csv

HEADER = "customer_key,purpose,given_at,source,separate,scope,withdrawn_at\n"


def _file(tmp_path: Path, body: str, name: str = "consents.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _facts(**over: object) -> PlanFacts:
    base: dict[str, object] = {
        "plan_id": 1, "deal": "d", "deal_kind": "asset", "dataset": "crm", "recipient": "Buyer",
        "categories": ("identity", "contact", "sensitive"),
        "purpose": "hand-over of the customer base", "eligible": 100,
    }  # fmt: skip
    return PlanFacts(**{**base, **over})  # type: ignore[arg-type]


def _found(facts: PlanFacts) -> dict[str, tuple[bool, dict[str, int]]]:
    return {f.rule: (f.blocking, dict(f.counts)) for f in evaluate(facts)}


def test_the_consent_rules_on_both_sides() -> None:
    # asset transfer of sensitive information, no consent records: blocking
    assert _found(_facts())["sensitive-separate-consent"][0] is True
    # an equity deal or a plan without the sensitive category needs no separate consent
    assert "sensitive-separate-consent" not in _found(_facts(deal_kind="equity"))
    assert "sensitive-separate-consent" not in _found(_facts(categories=("identity",)))
    assert "sensitive-separate-consent" not in _found(_facts(eligible=0))
    # consent records held: not blocking; the customers without one are counted as left out
    held = ConsentFacts(held=True, sensitive_customers=10, sensitive_without_consent=1)
    found = _found(_facts(consent=held))
    assert "sensitive-separate-consent" not in found
    assert found["consent-exclusions"] == (
        False,
        {"no_separate_consent": 1},
    )
    assert "consent-exclusions" not in _found(
        _facts(consent=replace(held, sensitive_without_consent=0))
    )
    # marketing: advisory while one customer lacks a marketing consent, none when all hold one
    some = ConsentFacts(held=True, marketing_permitted=9, marketing_not_permitted=1)
    assert _found(_facts(consent=some))["marketing-consent"] == (
        False,
        {"permitted": 9, "not_permitted": 1},
    )
    assert "marketing-consent" not in _found(
        _facts(consent=replace(some, marketing_not_permitted=0))
    )
    assert "marketing-consent" not in _found(_facts(consent=some, categories=("identity",)))


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("C000001,advertising,2026-01-02,app signup,yes,,\n", "row 2, column 'purpose'"),
        ("C000001,marketing,02/01/2026,app signup,yes,,\n", "row 2, column 'given_at'"),
        ("C000001,marketing,2026-01-02,app signup,maybe,,\n", "row 2, column 'separate'"),
        ("C000001,marketing,2026-01-02,app signup,yes,health,\n", "row 2, column 'scope'"),
        ("C000001,marketing,2026-01-02,13912345678,yes,,\n", "row 2, column 'source'"),
        ("C000001,marketing,2026-01-02,web,yes,,2025-01-01\n", "row 2, column 'withdrawn_at'"),
        (
            "C000001,marketing,2026-01-02,web,,,\nC000001,marketing,2026-01-02,web,,,\n",
            "row 3, column 'given_at'",
        ),
        (",marketing,2026-01-02,web,,,\n", "row 2, column 'customer_key'"),
    ],
)
def test_a_bad_consent_file_is_refused_naming_row_and_column(
    tmp_path: Path, body: str, where: str
) -> None:
    with pytest.raises(InputError) as err:
        read_consent_file(_file(tmp_path, body))
    assert "consents.csv" in str(err.value) and where in str(err.value)
    assert "13912345678" not in str(err.value)


def test_a_consent_file_needs_one_key_column(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("purpose,given_at,source\nmarketing,2026-01-02,web\n", encoding="utf-8")
    with pytest.raises(InputError, match="customer_key"):
        read_consent_file(path)
    path.write_text("customer_key,given_at,source\nC1,2026-01-02,web\n", encoding="utf-8")
    with pytest.raises(InputError, match="column 'purpose'"):
        read_consent_file(path)


def test_import_matches_customers_and_updates_on_reimport(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=4)
    body = (
        "C000001,marketing,2026-01-02,app signup,no,,\n"
        "C000002,marketing,2026-01-02T08:00:00+08:00,app signup,no,,\n"
        "C000002,transfer,2026-01-02,paper form,yes,sensitive,\n"
        "C999999,marketing,2026-01-02,app signup,no,,\n"
    )
    out = import_consents(stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm",
                          path=_file(tmp_path, body))  # fmt: skip
    assert (out.rows, out.added, out.updated, out.unmatched) == (4, 3, 0, 1)
    assert out.unmatched_rows == [5] and out.by_purpose == {"marketing": 2, "transfer": 1}
    summary = consent_summary(stores, actor=P(COUNSEL), deal=world.deal, dataset="crm")
    assert summary.purposes["marketing"] == {
        "records": 2, "withdrawn": 0, "customers_in_force": 2
    }  # fmt: skip
    # the second customer withdraws its marketing consent: the same row again, updated
    again = import_consents(
        stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm",
        path=_file(tmp_path, "C000002,marketing,2026-01-02T00:00:00Z,app signup,no,,2026-02-01\n",
                   "again.csv"),
    )  # fmt: skip
    assert (again.added, again.updated) == (0, 1)
    summary = consent_summary(stores, actor=P(STEWARD), deal=world.deal, dataset="crm")
    assert summary.purposes["marketing"]["customers_in_force"] == 1
    assert summary.purposes["marketing"]["withdrawn"] == 1
    with stores.records_session() as s:
        bodies = s.scalars(
            select(AuditEvent.body).where(AuditEvent.action == "consent.import")
        ).all()
    assert len(bodies) == 2
    text = b"".join(bodies).decode("utf-8")
    assert '"added":3' in text.replace(" ", "")
    assert "C00000" not in text and "paper form" not in text and "app signup" not in text


def test_only_the_seller_steward_imports_consents(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=2)
    path = _file(tmp_path, "C000001,marketing,2026-01-02,web,,,\n")
    for who in (COUNSEL, world.bidder_person):
        with pytest.raises(Forbidden):
            import_consents(stores, keyring, actor=P(who), deal=world.deal, dataset="crm",
                            path=path)  # fmt: skip
    with pytest.raises(Forbidden):
        consent_summary(stores, actor=P(world.bidder_person), deal=world.deal, dataset="crm")


def test_an_asset_package_leaves_out_customers_without_separate_consent(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path, customers_n=6)
    with stores.records_session() as s, s.begin():
        s.execute(update(Deal).where(Deal.code == world.deal).values(kind="asset"))
    ident = pyrage.x25519.Identity.generate()
    cats = ["identity", "contact", "sensitive"]
    plan = approved_plan(stores, world, str(ident.to_public()), categories=cats, open_gate=False)
    gate = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert "sensitive-separate-consent" in {f.rule for f in gate.findings if f.status == "open"}
    # customers 1-4 consented separately to the transfer (customer 4 then withdrew);
    # customers 1 and 2 also to marketing
    body = (
        "".join(
            f"C00000{i},transfer,2026-01-02,paper form,yes,,{'2026-03-01' if i == 4 else ''}\n"
            for i in (1, 2, 3, 4)
        )
        + "C000001,marketing,2026-01-02,web,no,,\nC000002,marketing,2026-01-02,web,no,,\n"
    )
    import_consents(stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm",
                    path=_file(tmp_path, body))  # fmt: skip
    gate = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    by_rule = {f.rule: f for f in gate.findings}
    assert by_rule["sensitive-separate-consent"].status == "cleared"
    assert by_rule["consent-exclusions"].counts["no_separate_consent"] == 3
    assert by_rule["marketing-consent"].counts == {"permitted": 2, "not_permitted": 4}
    from tests.transfer.test_plans import clear_gate

    clear_gate(stores, plan_id=plan.id)
    out = pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id,
                                  out=tmp_path / "pkg")  # fmt: skip
    assert out.customers == 3 and out.excluded["no_separate_consent"] == 3
    doc = json.loads((tmp_path / "pkg" / MANIFEST_FILE).read_bytes())
    assert doc["counts"]["excluded"]["no_separate_consent"] == 3
    assert doc["consent"]["no_separate_consent_excluded"] == 3
    assert doc["consent"]["marketing"]["permitted"] == 2
    assert doc["consent"]["marketing"]["not_permitted"] == 1
    records = pl.read_parquet(
        io.BytesIO(pyrage.decrypt((tmp_path / "pkg" / RECORDS_FILE).read_bytes(), [ident]))
    )
    real = set(records.get_column("subject_id").to_list()) & set(subjects)
    assert real == set(subjects[:3])
    # each customer's marketing consent travels with its record (the buyer enforces it)
    flags = dict(records.select("subject_id", "marketing_consent").iter_rows())
    assert [flags[x] for x in subjects[:3]] == ["yes", "yes", "no"]
    assert set(flags.values()) <= {"yes", "no"}  # canaries carry one too
    assert doc["consent"]["marketing"]["column"] == "marketing_consent"
    assert stores.audit.signer is not None
    vkey = stores.audit.signer.verifier().key_string()
    report, _ = verify_package(tmp_path / "pkg", identities=[ident], verifier_key=vkey)
    assert report.ok, report.problems


def test_children_without_a_guardians_consent_are_left_out(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    subjects = prepare(stores, keyring, world, tmp_path, customers_n=3)
    kids = [
        customer_row(90 + i, 客户编号=f"K{i}", 身份证号=ric(birth="20200101", seq=f"09{i}"),
                     出生日期="2020-01-01")
        for i in (1, 2)
    ]  # fmt: skip
    do_import(stores, keyring, write_csv(tmp_path / "kids.csv", kids), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()), open_gate=False)
    gate = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    by_rule = {f.rule: f for f in gate.findings}
    # the children are flagged one by one: no blocking finding for them, both left out
    assert "minors-guardian-consent" not in by_rule
    assert by_rule["consent-exclusions"].counts == {"no_guardian_consent": 2}
    # a guardian consented for the first child: only the second is left out
    import_consents(stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm",
                    path=_file(tmp_path, "K1,guardian,2026-01-02,paper form,yes,,\n"))  # fmt: skip
    gate = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert {f.rule: f for f in gate.findings}["consent-exclusions"].counts == {
        "no_guardian_consent": 1
    }
    report = compliance.compliance_report(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert report.facts["exclusions"]["no_guardian_consent"] == 1
    assert report.facts["eligible"] == 4  # as the package will count them
    from tests.transfer.test_plans import clear_gate

    clear_gate(stores, plan_id=plan.id)
    out = pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id,
                                  out=tmp_path / "pkg")  # fmt: skip
    assert out.customers == 4 and out.excluded["no_guardian_consent"] == 1
    doc = json.loads((tmp_path / "pkg" / MANIFEST_FILE).read_bytes())
    assert doc["consent"]["no_guardian_consent_excluded"] == 1
    records = pl.read_parquet(
        io.BytesIO(pyrage.decrypt((tmp_path / "pkg" / RECORDS_FILE).read_bytes(), [ident]))
    )
    assert len(set(records.get_column("subject_id").to_list()) & set(subjects)) == 3


def test_the_compliance_report_states_the_gate_without_a_personal_value(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=3)
    plan = approved_plan(stores, world, str(pyrage.x25519.Identity.generate().to_public()),
                         open_gate=False)  # fmt: skip
    import_consents(stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm",
                    path=_file(tmp_path, "C000001,marketing,2026-01-02,web,,,\n"))  # fmt: skip
    closed = compliance.compliance_report(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert not closed.gate_open and closed.blocking_open >= 1
    html = render_html(closed)
    assert "The gate is closed" in html and "pia-signed-off" in html and "PIPL art. 22" in html
    assert closed.consents["marketing"]["customers_in_force"] == 1
    assert "C000001" not in html and "13900000001" not in html and "测试" not in html
    from tests.transfer.test_plans import clear_gate

    clear_gate(stores, plan_id=plan.id)
    opened = compliance.compliance_report(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert opened.gate_open and {f.status for f in opened.findings if f.blocking} == {"waived"}
    assert render_as(render_html(opened), "pdf").startswith(b"%PDF")
    with pytest.raises(Forbidden):
        compliance.compliance_report(stores, actor=P(world.bidder_person), plan_id=plan.id)
