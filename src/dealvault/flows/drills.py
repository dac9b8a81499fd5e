"""Incident drills: a scripted leak run on a marked drill deal of invented customers, timing
how fast the store detects it, freezes the deal, opens the incident, finds the customers
reached and drafts the notices; each run kept as a drill record with its report.

The drill acts through the same use cases as a real incident (each decided and recorded):
the operator sets the drill deal up (its organisation, people, training, the deal), the
drill steward imports invented customers and releases a pseudonymized extract with canaries
to the drill's recipient, then the leak is *found*: one of that release's canaries is
reported contacted outside, as the seller's gateway would (``canary.hit``). From that moment
the response is timed: the alert, the freeze, the incident opened from the alert, the impact
analysis, the notices drafted. Nothing of a real deal is read or changed."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Final, TypeVar

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.errors import Conflict, DealvaultError, Invalid, NotFound
from dealvault.files import ensure_private_dir, open_private
from dealvault.flows import admin, agreements, incidents
from dealvault.flows.alert_delivery import Delivery
from dealvault.flows.canary_hits import report_hit
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import disclose
from dealvault.flows.guard import audit, authorize
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.flows.incident_notices import draft_for_regimes
from dealvault.flows.release import DisclosureRequest
from dealvault.flows.store import grant_role, revoke_role
from dealvault.incidents import drills as records
from dealvault.incidents.drills import DrillOut, DrillStep
from dealvault.ingest.source import SourceSpec
from dealvault.synth.generator import generate_customers
from dealvault.transfer.canaries import load_canaries
from dealvault.transfer.canary_seal import CanaryKeys

#: the drill's own people and recipient (invented, on the reserved ``.invalid`` domain)
STEWARD: Final = "drill-steward@drill.invalid"
TRAINER: Final = "drill-trainer@drill.invalid"
RECIPIENT: Final = "Drill recipient (invented)"
SCENARIO: Final = "canary-found-outside"
#: the drill's dataset
DATASET: Final = "drill"
#: response steps, in order; each timed from the moment the leak was found
RESPONSE: Final = ("detect", "freeze", "open incident", "impact", "draft notices")

T = TypeVar("T")


@dataclass
class _Run:
    """The steps taken so far and the moment the leak was found."""

    steps: list[DrillStep]
    found: float = 0.0

    def timed(self, step: str, fn: Callable[[], T], *, response: bool) -> T:
        start = time.perf_counter()
        out = fn()
        end = time.perf_counter()
        self.steps.append(
            DrillStep(
                step=step,
                seconds=round(end - start, 3),
                ok=True,
                since_found=round(end - self.found, 3) if response else None,
            )
        )
        return out

    def check(self, ok: bool, detail: str) -> None:
        """Mark the last step's outcome."""
        last = self.steps[-1]
        self.steps[-1] = last.model_copy(update={"ok": ok, "detail": detail})

    def failed(self, step: str, exc: DealvaultError) -> None:
        self.steps.append(DrillStep(step=step, seconds=0.0, ok=False, detail=str(exc)))


def run_drill(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    steward: Principal,
    trainer: Principal,
    customers: int = 200,
    seed: int = 1,
    draft_notices: Callable[[int], str] | None = None,
    delivery: Delivery | None = None,
) -> DrillOut:
    """Run the drill as the operator ``actor``; ``steward`` and ``trainer`` are the drill's
    own people (:data:`STEWARD`, :data:`TRAINER`). ``draft_notices`` drafts the notices of an
    incident (its id) and says what it drafted (default: those its legal regimes call for,
    by the drill steward)."""
    if not 10 <= customers <= 100_000:
        raise Invalid("a drill deal holds 10 to 100,000 invented customers (--customers)")
    if (steward.email, trainer.email) != (STEWARD, TRAINER):
        raise Invalid("the drill acts only as its own steward and trainer")
    with stores.unit_of_work() as uow:
        s = uow.records
        who, event = authorize(
            stores, s, actor=actor, action="drill.run",
            event=EventIn(action="drill.run", objects={"scenario": SCENARIO},
                          counts={"customers": customers}),
        )  # fmt: skip
        seller = who.organization.name
        row = records.start(s, scenario=SCENARIO, by=actor.email, customers=customers)
        drill_id, deal = row.id, row.deal
        audit(stores, uow, _with_deal(event, deal, drill_id))
    run = _Run(steps=[])
    alert_id = incident_id = None
    try:
        run.timed(
            "set up",
            lambda: _set_up(
                stores, actor=actor, trainer=trainer, seller=seller, deal=deal, drill_id=drill_id
            ),
            response=False,
        )
        phone = run.timed(
            "leak",
            lambda: _leak(stores, keyring, steward=steward, deal=deal, rows=customers, seed=seed),
            response=False,
        )
        run.found = time.perf_counter()
        hit = run.timed(
            "detect",
            lambda: report_hit(stores, keyring, actor=actor, channel="phone", value=phone,
                               source="drill", delivery=delivery),
            response=True,
        )  # fmt: skip
        alert_id = hit.alert
        run.check(
            hit.matched and hit.alert is not None and hit.recipient == RECIPIENT,
            f"alert #{hit.alert}: the canary traced to {hit.recipient}",
        )
        frozen = run.timed("freeze", lambda: _frozen(stores, deal), response=True)
        run.check(frozen, "the deal was frozen" if frozen else "the deal was NOT frozen")
        if alert_id is None:
            raise Invalid("no alert was raised: the response cannot go on")
        opened = run.timed(
            "open incident",
            lambda: incidents.open_incident(stores, actor=steward, alert_ids=[alert_id],
                                            title=f"Drill #{drill_id}: canary found outside"),
            response=True,
        )  # fmt: skip
        incident_id = opened.id
        run.check(True, f"incident #{opened.id} ({opened.severity})")
        found = run.timed(
            "impact",
            lambda: incidents.impact(stores, actor=steward, incident_id=opened.id),
            response=True,
        )
        run.check(
            found.customers == customers,
            f"{found.customers} customers reached (of {customers} released), "
            f"{len(found.recipients)} recipient(s)",
        )
        drafting = draft_notices or (
            lambda incident: draft_for_regimes(stores, actor=steward, incident_id=incident)
        )
        what = run.timed("draft notices", lambda: drafting(opened.id), response=True)
        run.check(bool(what), what or "no notice was drafted")
    except DealvaultError as exc:
        run.failed(_next_step(run), exc)
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores, s, actor=actor, action="drill.run",
            event=EventIn(action="drill.finish", deal=deal, objects={"drill": drill_id}),
        )  # fmt: skip
        row = records.finish(
            s, drill_id=drill_id, steps=run.steps, alert_id=alert_id, incident_id=incident_id
        )
        out = records.view(row)
        audit(stores, uow, _finished(event, out))
        return out


def list_drills(stores: AppStores, *, actor: Principal) -> list[DrillOut]:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores, uow.records, actor=actor, action="drill.read",
            event=EventIn(action="drill.list"),
        )  # fmt: skip
        out = [records.view(r) for r in records.listed(uow.records)]
        audit(stores, uow, event)
        return out


def show_drill(stores: AppStores, *, actor: Principal, drill_id: int) -> DrillOut:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores, uow.records, actor=actor, action="drill.read",
            event=EventIn(action="drill.show", objects={"drill": drill_id}),
        )  # fmt: skip
        out = records.view(records.get(uow.records, drill_id=drill_id))
        audit(stores, uow, event)
        return out


def _with_deal(event: EventIn, deal: str, drill_id: int) -> EventIn:
    return replace(event, objects={**event.objects, "drill": drill_id, "drill_deal": deal})


def _finished(event: EventIn, out: DrillOut) -> EventIn:
    """The finish event: the outcome and each step's milliseconds (from the leak's finding
    for the response steps)."""
    timings = {f"ms_{s.step.replace(' ', '_')}": int(1000 * (s.since_found or s.seconds))
               for s in out.steps}  # fmt: skip
    return replace(
        event,
        objects={**event.objects, "status": out.status},
        counts={"steps": len(out.steps), **timings},
    )


def _next_step(run: _Run) -> str:
    done = {s.step for s in run.steps}
    for step in ("set up", "leak", *RESPONSE):
        if step not in done:
            return step
    return "finish"


def _set_up(
    stores: AppStores, *, actor: Principal, trainer: Principal, seller: str, deal: str,
    drill_id: int,
) -> None:  # fmt: skip
    """The drill's recipient and people (made once per store), the steward's training
    (recorded by the drill's trainer, whose role is taken back at once) and the deal."""
    with stores.records_session() as s:
        known = {o.name for o in access.list_organizations(s)}
        people = set()
        for email in (STEWARD, TRAINER):
            try:
                access.get_person(s, email=email)
                people.add(email)
            except NotFound:
                pass
    if RECIPIENT not in known:
        admin.create_organization(stores, actor=actor, name=RECIPIENT, kind="bidder")
    for email, name in ((STEWARD, "Drill steward"), (TRAINER, "Drill trainer")):
        if email not in people:
            admin.create_person(stores, actor=actor, email=email, name=name,
                                organization=seller)  # fmt: skip
    grant_role(stores, actor=actor, email=TRAINER, role="training_admin")
    try:
        agreements.add_training(stores, actor=trainer, email=STEWARD, course="confidentiality",
                                completed=date.today() - timedelta(days=1))  # fmt: skip
    except Conflict:  # an earlier drill today recorded it
        pass
    finally:
        revoke_role(stores, actor=actor, email=TRAINER, role="training_admin")
    admin.create_deal(
        stores, actor=actor, code=deal, name=f"DRILL #{drill_id}: invented customers only",
        kind="asset", seller=seller, bidders=[RECIPIENT], stewards=[STEWARD], drill=True,
    )  # fmt: skip


def _leak(
    stores: AppStores, keyring: KeyRing, *, steward: Principal, deal: str, rows: int, seed: int
) -> str:
    """Invented customers imported, a pseudonymized extract with canaries released to the
    drill's recipient; the phone of one of its canaries (found outside)."""
    with tempfile.TemporaryDirectory(prefix="dealvault-drill-") as tmp:
        work = ensure_private_dir(Path(tmp), what=None)
        source = work / "customers.csv"
        frame = next(generate_customers(rows=rows, seed=seed, chunk_rows=rows))
        with open_private(source, "wb") as fh:
            frame.write_csv(fh)
        request = ImportRequest(actor=steward, deal=deal, dataset=DATASET,
                                spec=SourceSpec(path=source))  # fmt: skip
        import_source(stores, keyring, request=request, rejects_dir=work)
    admin.advance_deal(stores, actor=steward, code=deal, to=None, winner=None,
                       reason="drill: due diligence")  # fmt: skip
    disclose(
        stores, keyring,
        request=DisclosureRequest(actor=steward, deal=deal, dataset=DATASET,
                                  level=Level.PSEUDONYMIZED, recipient=RECIPIENT,
                                  purpose="incident drill: the extract that leaks"),
    )  # fmt: skip
    with stores.unit_of_work() as uow:
        d = access.get_deal(uow.records, code=deal)
        keys = CanaryKeys.of(keyring, uow.keys, create=False)
        canaries = [c for c in load_canaries(uow.records, keys=keys, deal_ids=[d.id]) if c.phone]
    if not canaries:
        raise Invalid("the drill's release carried no canary with a phone")
    return canaries[0].phone


def _frozen(stores: AppStores, deal: str) -> bool:
    with stores.records_session() as s:
        return bool(access.get_deal(s, code=deal).frozen)
