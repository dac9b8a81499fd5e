"""Incident fixtures: a deal with a security officer, twelve customers imported and released
through the real disclosure flow, and an alert raised by the monitor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from dealvault.audit.service import EventIn, record_many
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose
from dealvault.flows.monitoring import run_monitor
from dealvault.vault.models import CustomerRecord
from tests.conftest import OP, SELLER, P, World
from tests.vault.helpers import customer_row, do_import, write_csv

SECURITY = "security@seller.example"
COUNSEL = "counsel@seller.example"
ANALYST = "analyst@bidder-a.example"
ROWS = [customer_row(i) for i in range(1, 13)]


@dataclass(frozen=True)
class Scene:
    world: World
    subjects: list[str]  # the twelve customers' subject ids, sorted
    alert: int  # the monitor's alert on the analyst's denials


def release(stores: AppStores, keyring: KeyRing, world: World, recipient: str) -> None:
    req = DisclosureRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        purpose="due diligence",
        level=Level.PSEUDONYMIZED,
        recipient=recipient,
        seed=1,
    )
    disclose(stores, keyring, request=req)


@pytest.fixture
def scene(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> Scene:
    admin.create_person(stores, actor=OP, email=SECURITY, name="Security", organization=SELLER)
    admin.add_member(stores, actor=OP, deal=world.deal, email=SECURITY, role="security_officer")
    admin.create_person(stores, actor=OP, email=COUNSEL, name="Counsel", organization=SELLER)
    admin.add_member(stores, actor=OP, deal=world.deal, email=COUNSEL, role="counsel")
    do_import(stores, keyring, write_csv(tmp_path / "c.csv", ROWS), actor=P(world.steward),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=P(world.steward),
                       reason="due diligence")  # fmt: skip
    with stores.unit_of_work() as uow:  # five refused reads: the monitor's denials rule
        denied = EventIn(action="disclose", actor=ANALYST, deal=world.deal, decision="deny",
                         reasons=("no policy permits it",))  # fmt: skip
        record_many(uow.records, stores.audit, [denied] * 5)
    alerts = run_monitor(stores, actor=OP).alerts_new
    assert len(alerts) == 1
    with stores.records_session() as s:
        subjects = sorted(s.scalars(select(CustomerRecord.subject_id)))
    assert len(subjects) == 12
    return Scene(world=world, subjects=subjects, alert=alerts[0])
