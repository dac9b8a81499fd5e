"""Cross-border checks over the store: flags set right at import, counted in one query, the
volumes since 1 January (Beijing time) from the packages of plans sent abroad, a plan's
destination, and counsel recording a mechanism (audited without its reference)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select, update

from dealvault.audit.models import AuditEvent
from dealvault.compliance import rules_crossborder as xb
from dealvault.compliance.crossborder_file import shipped
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Forbidden, Invalid
from dealvault.flows import compliance
from dealvault.flows import transfer as flows
from dealvault.flows.context import AppStores
from dealvault.flows.crossborder import record_mechanism
from dealvault.notices.render import language_of
from dealvault.transfer.models import TransferPackage, TransferPlan
from dealvault.vault import flags
from dealvault.vault.models import CustomerRecord
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import BUYER, CATS, COUNSEL, OFFICER, identity, prepare
from tests.vault.helpers import customer_row, do_import, ric, write_csv

MAINLAND = "北京市朝阳区测试路1号"
# (row overrides, flags expected): invented customers
ROWS: list[tuple[dict[str, str], int]] = [
    ({}, 0),  # a mainland customer: no flag
    ({"身份证号": ric(birth="20200101", seq="201"), "出生日期": ""}, flags.MINOR),  # by ID
    ({"身份证号": "", "出生日期": "2019-05-01"}, flags.MINOR),  # by birth date alone
    ({"手机号": "+33 6 12 34 56 78"}, flags.EU | flags.ABROAD),  # EU by phone code
    ({"手机号": "+852 9123 4567"}, flags.ABROAD),  # Hong Kong: abroad, not EU
    ({"地址": "12 Rue de la Paix, 75002 Paris, France"}, flags.EU),  # a western address
    ({"地址": "德国柏林测试街5号"}, flags.EU),  # a Chinese address
    ({"地址": "Belfast, Northern Ireland"}, 0),  # not Ireland
    ({"地址": "上海市法国梧桐路8号"}, 0),  # a street named after France
    ({"手机号": "+49 1512 3456789", "身份证号": ric(birth="20180101", seq="207"),
      "出生日期": ""}, flags.EU | flags.ABROAD | flags.MINOR),
]  # fmt: skip


def _import(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    rows = [customer_row(100 + i, **{"地址": MAINLAND, **over}) for i, (over, _) in enumerate(ROWS)]
    do_import(stores, keyring, write_csv(tmp_path / "xb.csv", rows), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip


def test_flags_are_set_right_at_import(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    _import(stores, keyring, world, tmp_path)
    with stores.records_session() as s:
        got = list(s.scalars(select(CustomerRecord.flags).order_by(CustomerRecord.id)))
        dataset_id = s.scalar(select(CustomerRecord.dataset_id).limit(1))
        assert dataset_id is not None
        assert got == [want for _, want in ROWS]
        counts = flags.count_flags(s, dataset_id=dataset_id)
        assert counts == {"minor": 3, "eu": 4, "abroad": 3, "unknown": 0, "total": len(ROWS)}
        assert flags.unknown(s, dataset_id) == 0
        # a customer imported before flags: unknown, counted apart
        s.execute(update(CustomerRecord).where(CustomerRecord.id == 1).values(flags=None))
        s.commit()
        assert flags.unknown(s, dataset_id) == 1
        assert flags.count_flags(s, dataset_id=dataset_id, status=None)["unknown"] == 1
        assert flags.count_flags(s, dataset_id=dataset_id, status="objecting")["total"] == 0


def test_abroad_is_the_notices_foreign_customer_rule() -> None:
    phones = ["+8613900000001", "+85291234567", "+33612345678", "+886912345678", None, "139"]
    frame = pl.DataFrame({"phone": phones}, schema={"phone": pl.String})
    rules = shipped().gdpr
    ours = flags.with_flags(frame, minors=None, eea=rules.eea, country_columns=())
    abroad = [(f & flags.ABROAD) != 0 for f in ours.get_column(flags.COLUMN).to_list()]
    english = [x == "en" for x in frame.select(language_of()).to_series().to_list()]
    assert abroad == english == [False, True, True, True, False, False]


def test_a_country_column_names_an_eu_state() -> None:
    frame = pl.DataFrame({"国家": ["法国", "China", "de", None], "phone": [None] * 4},
                         schema={"国家": pl.String, "phone": pl.String})  # fmt: skip
    rules = shipped().gdpr
    out = flags.with_flags(frame, minors=None, eea=rules.eea, country_columns=rules.country_columns)
    assert out.get_column(flags.COLUMN).to_list() == [flags.EU, 0, flags.EU, 0]


def _plan(stores: AppStores, world: World, *, destination: str = "CN",
          categories: list[str] | None = None) -> flows.PlanOut:  # fmt: skip
    return flows.create_plan(
        stores, actor=P(world.steward), deal=world.deal, dataset="crm", recipient=BUYER,
        recipients=[str(identity().to_public())], categories=categories or CATS,
        purpose="hand-over of the customer base at closing", destination=destination,
    )  # fmt: skip


def _package(stores: AppStores, plan: flows.PlanOut, customers: int, at: datetime) -> None:
    """A package row of ``plan`` as the ledger holds it (invented; no files built)."""
    with stores.records_session() as s:
        p = s.get(TransferPlan, plan.id)
        assert p is not None
        s.add(TransferPackage(
            plan_id=p.id, deal_id=p.deal_id, recipient_id=p.recipient_id, path="/nowhere",
            customers=customers, records=customers, size_bytes=1, merkle_root="0" * 64,
            manifest_sha256="0" * 64, purpose=p.purpose, created_at=at,
        ))  # fmt: skip
        s.commit()


def test_volumes_since_1_january_from_the_packages_sent_abroad(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    hk = _plan(stores, world, destination="HK")
    sens = _plan(stores, world, destination="DE", categories=["identity", "sensitive"])
    home = _plan(stores, world)
    assert (hk.destination, home.destination) == ("HK", "CN")
    new_year = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 2026, 00:00 in Beijing
    _package(stores, hk, 500, datetime(2025, 12, 31, 12, 0, tzinfo=UTC))  # 31 Dec: not counted
    _package(stores, hk, 40, new_year)
    _package(stores, sens, 7, datetime(2026, 3, 1, tzinfo=UTC))
    _package(stores, home, 900, datetime(2026, 3, 1, tzinfo=UTC))  # to the mainland: not counted
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert xb.year_start(now, shipped()) == new_year
    with stores.records_session() as s:
        plan = s.get(TransferPlan, home.id)
        assert plan is not None
        got = xb.facts(s, plan, now=now)
        assert (got["abroad_prior"], got["abroad_prior_sensitive"]) == (47, 7)
        # a plan's own packages are not counted twice (its eligible customers are)
        own = s.get(TransferPlan, hk.id)
        assert own is not None
        assert xb.facts(s, own, now=now)["abroad_prior"] == 7
        # the next year starts again from zero
        assert xb.facts(s, plan, now=datetime(2027, 1, 2, tzinfo=UTC))["abroad_prior"] == 0


def test_a_destination_is_an_iso_code(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    for bad in ("China", "C", "中国", "C1"):
        with pytest.raises(Invalid, match="alpha-2"):
            _plan(stores, world, destination=bad)
    assert _plan(stores, world, destination=" mo ").destination == "MO"
    shown = flows.show_plan(stores, actor=P(COUNSEL), plan_id=1)
    assert (shown.destination, shown.mechanisms) == ("MO", [])


def test_the_gate_with_eu_customers_abroad_and_counsel_recording_mechanisms(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path)
    eu = customer_row(77, **{"手机号": "+33 6 12 34 56 78"})
    do_import(stores, keyring, write_csv(tmp_path / "eu.csv", [eu]), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    plan = _plan(stores, world, destination="HK", categories=["identity", "sensitive"])
    out = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    by_rule = {f.rule: f for f in out.findings}
    assert {"cross-border-mechanism", "gdpr-transfer"} <= set(by_rule)
    assert by_rule["cross-border-mechanism"].counts == {
        "individuals": 13, "sensitive": 13, "provided_before": 0}  # fmt: skip
    assert by_rule["gdpr-transfer"].counts == {"eu_subjects": 1}

    ref = "CAC standard contract filing 2026-0042"
    for who in (STEWARD, OFFICER):  # only counsel records a mechanism
        with pytest.raises(Forbidden):
            record_mechanism(stores, actor=P(who), plan_id=plan.id, kind="scc", reference=ref)
    with pytest.raises(Invalid, match="kind"):
        record_mechanism(stores, actor=P(COUNSEL), plan_id=plan.id, kind="hope", reference=ref)
    with pytest.raises(Invalid, match="reference"):
        record_mechanism(stores, actor=P(COUNSEL), plan_id=plan.id, kind="scc", reference=" ")
    got = record_mechanism(stores, actor=P(COUNSEL), plan_id=plan.id, kind="standard_contract",
                           reference=ref)  # fmt: skip
    assert (got.kind, got.recorded_by, got.recorded) == (
        "standard_contract", COUNSEL, ["standard_contract"])  # fmt: skip
    after = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    status = {f.rule: f.status for f in after.findings}
    assert status["cross-border-mechanism"] == "cleared" and status["gdpr-transfer"] == "open"
    record_mechanism(stores, actor=P(COUNSEL), plan_id=plan.id, kind="scc",
                     reference="SCC module 1 signed 2026-11-30")  # fmt: skip
    last = compliance.check_plan(stores, actor=P(COUNSEL), plan_id=plan.id)
    assert {f.rule: f.status for f in last.findings}["gdpr-transfer"] == "cleared"
    assert flows.show_plan(stores, actor=P(COUNSEL), plan_id=plan.id).mechanisms == [
        "scc", "standard_contract"]  # fmt: skip

    with stores.records_session() as s:
        bodies = [json.loads(b) for b in s.scalars(select(AuditEvent.body).where(
            AuditEvent.action == "transfer.plan.mechanism"))]  # fmt: skip
    allowed = [b for b in bodies if b["decision"] == "allow"]
    assert [(b["objects"]["kind"], b["counts"]["chars"]) for b in allowed] == [
        ("standard_contract", len(ref)), ("scc", 30)]  # fmt: skip
    assert {b["actor"] for b in bodies if b["decision"] == "deny"} == {STEWARD, OFFICER}
    assert "2026-0042" not in json.dumps(bodies) and "+33" not in json.dumps(bodies)


def test_merged_rows_or_their_flags(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """Two rows of one customer in a batch, and a row merged into a stored customer (one
    imported before flags too), keep every flag either row gave."""
    same = ric(seq="301")
    batch = [customer_row(301, 身份证号=same),  # mainland first: no flag
             customer_row(302, 身份证号=same, 手机号="+33 6 12 34 56 78")]  # fmt: skip
    do_import(stores, keyring, write_csv(tmp_path / "a.csv", batch), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    other = customer_row(303, 身份证号=ric(seq="303"))
    do_import(stores, keyring, write_csv(tmp_path / "b.csv", [other]), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    with stores.records_session() as s:
        assert list(s.scalars(select(CustomerRecord.flags).order_by(CustomerRecord.id))) == [
            flags.EU | flags.ABROAD, 0]  # fmt: skip
        s.execute(update(CustomerRecord).where(CustomerRecord.id == 2).values(flags=None))
        s.commit()
    later = [customer_row(304, 身份证号=same, 地址="1 Rue X, Paris, France"),
             customer_row(305, 身份证号=ric(seq="303"), 地址="德国柏林测试街5号")]  # fmt: skip
    do_import(stores, keyring, write_csv(tmp_path / "c.csv", later), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    with stores.records_session() as s:
        assert list(s.scalars(select(CustomerRecord.flags).order_by(CustomerRecord.id))) == [
            flags.EU | flags.ABROAD, flags.EU]  # fmt: skip
