"""PIPL art. 22 notices of a transfer plan: each active customer's notice rendered in bulk for
the seller's gateway (a delivery file, mode 0600), and the gateway's status file imported back,
each objection setting its customer ``objecting`` in the same transaction. Audited as ids and
counts: never a message, an address or a customer's value."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Organization, Person
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn, SubjectPacker
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.files import check_output_file
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.transfer import open_plan
from dealvault.incidents.notice_schemas import BatchOut
from dealvault.notices import render, sending
from dealvault.notices import service as bulk
from dealvault.transfer import plan_notices as pn
from dealvault.transfer.models import TransferPlan
from dealvault.vault import statuses
from dealvault.vault.jobs import lock
from dealvault.vault.models import Dataset

ACTION = "plan.notify"
_CONTACT = re.compile(r"[^\x00-\x1f\x7f]{3,300}")


class PlanNoticesOut(BaseModel):
    """A plan's notice batches and its customers per reason (never an address or message)."""

    plan: int
    deal: str
    objection_days: int
    batches: list[BatchOut]
    counts: dict[str, int] = Field(
        description="Customers notified, delivered (objected included), unreachable, pending, "
        "objected, objected_late."
    )
    objection_window_ends: datetime | None = None
    #: what the last import changed (status import only)
    objected_now: int = 0
    objected_late_now: int = 0
    kept: int = Field(default=0, description="Rows left out: their delivery was objected.")


def _opened(
    stores: AppStores, s: Session, *, actor: Principal, plan_id: int, event_action: str
) -> tuple[TransferPlan, Deal, Dataset, Person, EventIn]:
    plan, deal, ds = open_plan(s, plan_id)
    person, event = authorize(
        stores,
        s,
        actor=actor,
        action=ACTION,
        deal=deal,
        event=EventIn(action=event_action, objects={"plan": plan.id, "dataset": ds.name}),
    )
    return plan, deal, ds, person, event


def _out(s: Session, plan: TransferPlan, deal: Deal) -> PlanNoticesOut:
    batches = bulk.batches_of(s, ref=pn.ref(plan.id))
    every = bulk.counts_of(s, batch_ids=[b.id for b in batches])
    st = pn.state(s, plan)
    return PlanNoticesOut(
        plan=plan.id,
        deal=deal.code,
        objection_days=plan.objection_days,
        batches=[BatchOut.of(b, every[b.id]) for b in batches],
        counts=dict(st.counts),
        objection_window_ends=st.window_ends,
    )


def notify(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    plan_id: int,
    channel: str,
    out: Path,
    contact: str,
    template_set: str = pn.TEMPLATE_SET,
) -> BatchOut:
    """Render the PIPL art. 22 notice of each active customer of the plan's dataset not yet
    reached (all of them the first time; later those never notified or unreachable) and write
    the delivery file for the gateway (CSV, mode 0600). ``contact``: where the seller takes
    objections (named in the notice). Refused once a package of the plan was built."""
    check_output_file(out, what="delivery file")
    if channel not in render.CHANNELS:
        raise Invalid(f"--channel: one of {', '.join(render.CHANNELS)}")
    contact = " ".join(contact.split())
    if not _CONTACT.fullmatch(contact):
        raise Invalid("--contact: where the seller takes objections (3 to 300 characters)")
    tset = render.template_set(template_set)
    now = utcnow()
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _, person, event = _opened(
            stores, s, actor=actor, plan_id=plan_id, event_action="transfer.plan.notify"
        )
        if plan.status == "denied":
            raise Conflict(f"transfer plan {plan.id} is denied: nothing will be transferred")
        built = pn.built_packages(s, plan)
        if built:
            raise Conflict(
                f"transfer plan {plan.id}'s package {built[0]} was already built: the notices "
                "come before the transfer"
            )
        if not plan.recipient_contact:
            raise Conflict(
                f"transfer plan {plan.id} states no recipient contact, which the notice must "
                "give (PIPL art. 22): draw up a plan with --recipient-contact"
            )
        subjects = pn.to_notify(s, plan)
        if not subjects:
            raise Conflict(
                f"every active customer of transfer plan {plan.id} was notified (delivered or "
                "pending): nothing to send"
            )
        org = s.get(Organization, plan.recipient_id)
        assert org is not None  # a foreign key guarantees it
        context = pn.context(
            plan,
            seller=person.organization.name,
            recipient=org.name,
            contact=contact,
            deadline=(now + timedelta(days=plan.objection_days)).date(),
        )
        sent = sending.send(
            uow, keyring, deal=deal, ref=pn.ref(plan.id), tset=tset, channel=channel,
            context=context, subjects=subjects, by=person.email, now=now, out=out,
        )  # fmt: skip
        audit(
            stores,
            uow,
            replace(
                event,
                purpose=plan.purpose,
                objects=dict(event.objects) | sent.objects(),
                counts=sent.event_counts() | {"objection_days": plan.objection_days},
                subjects=sent.subjects,
            ),
        )
        return BatchOut.of(sent.batch, sent.counts)


def import_status(
    stores: AppStores, *, actor: Principal, plan_id: int, path: Path
) -> PlanNoticesOut:
    """Import the gateway's status file for the plan's notices (delivery_id, status, at;
    ``objected`` besides the delivery statuses). Every row is checked (a bad row refuses the
    file, named by file, row and column); then, in one transaction, the deliveries are updated
    and each customer who objected is set ``objecting`` in the plan's dataset, as a steward's
    ``customer status`` does. An objection after its customer's window is honoured while no
    package was built (counted ``objected_late``); once one was built it is refused."""
    status = bulk.read_status_file(path, statuses=pn.STATUSES)
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, ds, _, event = _opened(
            stores, s, actor=actor, plan_id=plan_id, event_action="transfer.plan.notice_status"
        )
        if not bulk.batches_of(s, ref=pn.ref(plan.id)):
            raise NotFound(f"transfer plan {plan.id} has no notice batch (plan notify first)")
        # the dataset's job lock before "was a package built?": a build holds it to the end
        ds = lock(uow, ds, job="notice status import")
        applied = pn.apply_status(s, plan=plan, status=status, file=path.name)
        before: dict[str, str] = {}
        if applied.objected:
            before = statuses.set_statuses(
                uow,
                dataset=ds,
                subject_ids=applied.objected,
                status="objecting",
                job="notice status import",
                skip_shredded=True,
            )
        packer = SubjectPacker()
        packer.add(list(applied.objected))
        shredded = sum(1 for v in before.values() if v == "shredded")
        audit(
            stores,
            uow,
            replace(
                event,
                objects=dict(event.objects)
                | {"batches": ",".join(str(b) for b in applied.batches), "file": path.name},
                counts={
                    "rows": status.height,
                    **{f"rows_{k}": int(v) for k, v in sorted(applied.rows.items())},
                    "objected": len(applied.objected) - shredded,
                    "objected_late": applied.late,
                    "objected_shredded": shredded,
                    "kept": applied.kept,
                },
                subjects=packer,
            ),
        )
        out = _out(s, plan, deal)
        return out.model_copy(
            update={
                "objected_now": len(applied.objected),
                "objected_late_now": applied.late,
                "kept": applied.kept,
            }
        )


def list_notices(stores: AppStores, *, actor: Principal, plan_id: int) -> PlanNoticesOut:
    """The plan's notice batches (counts per status) and its customers per reason."""
    with stores.unit_of_work() as uow:
        s = uow.records
        plan, deal, _ = open_plan(s, plan_id)
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="plan.read",
            deal=deal,
            event=EventIn(action="transfer.plan.notices", objects={"plan": plan.id}),
        )
        out = _out(s, plan, deal)
        audit(stores, uow, replace(event, counts={"batches": len(out.batches)}))
        return out
