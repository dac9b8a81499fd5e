"""Incident drills end to end: a drill deal of invented customers, a release with canaries,
one canary found outside; the store detects, freezes, opens the incident and finds the
customers reached, each step timed and kept as a drill record. A real deal is untouched;
only the operator runs drills."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.principal import local
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Forbidden, Invalid
from dealvault.flows import drills
from dealvault.flows.context import AppStores
from tests.conftest import OP, World

STEWARD, TRAINER = local(drills.STEWARD), local(drills.TRAINER)


def _run(stores: AppStores, keyring: KeyRing, **kw: object) -> drills.DrillOut:
    args: dict[str, object] = {"customers": 40, **kw}
    return drills.run_drill(stores, keyring, actor=OP, steward=STEWARD, trainer=TRAINER,
                            **args)  # type: ignore[arg-type]  # fmt: skip


def test_a_drill_detects_freezes_opens_and_finds_every_customer(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    drafted: list[int] = []
    out = _run(stores, keyring, draft_notices=lambda i: drafted.append(i) or "2 drafts")
    assert out.status == "passed", out.steps
    steps = {s.step: s for s in out.steps}
    assert list(steps) == ["set up", "leak", *drills.RESPONSE]
    assert all(steps[s].since_found is not None for s in drills.RESPONSE)
    assert steps["set up"].since_found is None
    since = [steps[s].since_found for s in drills.RESPONSE]
    assert since == sorted(since)  # each response step ends after the one before
    assert "traced to Drill recipient (invented)" in steps["detect"].detail
    assert steps["impact"].detail.startswith("40 customers reached (of 40 released)")
    assert drafted == [out.incident_id] and out.alert_id is not None
    with stores.records_session() as s:
        deal = access.get_deal(s, code=out.deal)
        assert deal.drill and deal.frozen
        real = access.get_deal(s, code=world.deal)
        assert not real.drill and not real.frozen
        finish = json.loads(
            s.scalars(select(AuditEvent.body).where(AuditEvent.action == "drill.finish")).one()
        )
    assert finish["objects"]["status"] == "passed" and finish["counts"]["ms_detect"] >= 0
    # a second drill reuses the drill's people and recipient, on a deal of its own
    again = _run(stores, keyring)
    assert again.status == "passed" and again.deal != out.deal, again.steps
    listed = drills.list_drills(stores, actor=OP)
    assert [d.id for d in listed] == [again.id, out.id]
    assert drills.show_drill(stores, actor=OP, drill_id=out.id).steps == out.steps


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_failed_step_is_recorded_and_the_drill_fails(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    def broken(incident: int) -> str:
        raise Invalid("the notice template is missing (drill)")

    out = _run(stores, keyring, draft_notices=broken)
    assert out.status == "failed"
    last = out.steps[-1]
    assert (last.step, last.ok) == ("draft notices", False)
    assert "template is missing" in last.detail


@pytest.mark.parametrize("backend", ["sqlite"])
def test_only_the_operator_runs_drills_and_only_as_the_drill_people(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    with pytest.raises(Forbidden):
        drills.run_drill(stores, keyring, actor=local(world.steward), steward=STEWARD,
                         trainer=TRAINER, customers=40)  # fmt: skip
    with pytest.raises(Invalid, match="own steward"):
        drills.run_drill(stores, keyring, actor=OP, steward=local(world.steward),
                         trainer=TRAINER, customers=40)  # fmt: skip
    with pytest.raises(Invalid, match="10 to 100,000"):
        _run(stores, keyring, customers=5)
    with pytest.raises(Forbidden):
        drills.list_drills(stores, actor=local(world.steward))
