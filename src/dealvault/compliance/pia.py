"""The impact assessment's records: the facts of a plan gathered from the store (counts and
names of organisations, never a personal value), stored canonically with their digest, kept
three years, signed off once per role; and whether the latest one still matches the plan."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dealvault.access.governance_models import Agreement, Grant, TrainingRecord
from dealvault.access.models import Deal, Membership, Organization
from dealvault.audit.models import AuditCheckpoint, AuditEvent
from dealvault.compliance.models import ComplianceFinding
from dealvault.compliance.pia_models import ComplianceImpactAssessment as Pia
from dealvault.compliance.pia_models import ComplianceImpactSignoff as Signoff
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Conflict, NotFound
from dealvault.transfer.models import Canary, TransferPlan
from dealvault.transfer.records import status_counts
from dealvault.vault.models import Dataset, DatasetColumn, DatasetTable, ImportRun

#: the roles that sign an assessment off, each once
ROLES: Final = ("counsel", "security_officer")
#: PIPL art. 56: the report and the record of processing are kept at least three years
KEEP_YEARS: Final = 3
#: version of the stored inputs' shape
SCHEMA: Final = 1


def canonical(inputs: Mapping[str, Any]) -> str:
    return json.dumps(inputs, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(inputs).encode("utf-8")).hexdigest()


def kept_until(at: datetime) -> datetime:
    """``at`` plus three years (29 February becomes 28 February)."""
    try:
        return at.replace(year=at.year + KEEP_YEARS)
    except ValueError:
        return at.replace(year=at.year + KEEP_YEARS, day=28)


def basis(session: Session, plan: TransferPlan) -> dict[str, Any]:
    """The plan's facts an assessment rests on: when one of them changes, the assessment is
    stale (recipient, purposes, categories, destination, volume and exclusions, what was
    counted at import)."""
    dataset = session.get(Dataset, plan.dataset_id)
    org = session.get(Organization, plan.recipient_id)
    if dataset is None or org is None:  # pragma: no cover - foreign keys
        raise NotFound(f"dataset or recipient of transfer plan {plan.id} not found")
    by_status = status_counts(session, dataset=dataset)
    minors, sensitive, imports = session.execute(
        select(func.coalesce(func.sum(ImportRun.minors), 0),
               func.coalesce(func.sum(ImportRun.sensitive_rows), 0), func.count())
        .where(ImportRun.dataset_id == dataset.id)
    ).one()  # fmt: skip
    return {
        "plan": plan.id,
        "dataset": dataset.name,
        "recipient": org.name,
        "purpose": plan.purpose or "",
        "categories": sorted(c for c in plan.categories.split(",") if c),
        "destination": str(getattr(plan, "destination", None) or "CN"),
        "eligible": int(by_status.get("active", 0)),
        "exclusions": {k: int(n) for k, n in sorted(by_status.items()) if k != "active" and n},
        "minors": int(minors or 0),
        "sensitive_rows": int(sensitive or 0),
        "imports": int(imports or 0),
    }


def _inventory(session: Session, dataset_id: int) -> dict[str, Any]:
    cols = session.scalars(
        select(DatasetColumn)
        .join(DatasetTable, DatasetTable.id == DatasetColumn.table_id)
        .where(DatasetTable.dataset_id == dataset_id)
    ).all()
    by_cat: dict[str, int] = {}
    by_type: dict[str, int] = {}
    for c in cols:
        by_cat[c.category] = by_cat.get(c.category, 0) + 1
        kind = c.override or c.pii_type
        if kind:
            by_type[kind] = by_type.get(kind, 0) + 1
    tables = session.scalar(
        select(func.count()).select_from(DatasetTable).where(DatasetTable.dataset_id == dataset_id)
    )
    return {
        "tables": int(tables or 0),
        "columns": len(cols),
        "columns_by_category": dict(sorted(by_cat.items())),
        "columns_by_pii_type": dict(sorted(by_type.items())),
        "sensitive_columns": sum(1 for c in cols if c.sensitive),
    }


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def _access(session: Session, deal: Deal, plan: TransferPlan, now: datetime) -> dict[str, Any]:
    today = now.date()
    agreements: dict[str, int] = {}
    recipient_transfer = 0
    for a in session.scalars(select(Agreement).where(Agreement.deal_id == deal.id)):
        if (
            a.revoked_at is None
            and a.effective <= today
            and (a.expires is None or a.expires >= today)
        ):
            agreements[a.kind] = agreements.get(a.kind, 0) + 1
            if a.kind == "transfer" and a.organization_id == plan.recipient_id:
                recipient_transfer += 1
    members = set(
        session.scalars(select(Membership.person_id).where(Membership.deal_id == deal.id))
    )
    trained = set(
        session.scalars(
            select(TrainingRecord.person_id).where(
                TrainingRecord.person_id.in_(members),
                or_(TrainingRecord.expires.is_(None), TrainingRecord.expires >= today),
            )
        )
    ) if members else set()  # fmt: skip
    grants = _count(session, select(func.count()).select_from(Grant).where(
        Grant.deal_id == deal.id, Grant.revoked_at.is_(None), Grant.expires_at > now))  # fmt: skip
    return {
        "agreements_in_force": dict(sorted(agreements.items())),
        "recipient_transfer_agreements": recipient_transfer,
        "members": len(members),
        "members_trained": len(trained),
        "grants_active": grants,
    }


def gather(
    session: Session, keys: Session, keyring: KeyRing, *, plan: TransferPlan, now: datetime
) -> dict[str, Any]:
    """Every fact the assessment reads (GB/T 39335-2020 step 2, data mapping, and the
    controls in place), as JSON-ready counts."""
    deal = session.get(Deal, plan.deal_id)
    dataset = session.get(Dataset, plan.dataset_id)
    if deal is None or dataset is None:  # pragma: no cover - foreign keys
        raise NotFound(f"deal or dataset of transfer plan {plan.id} not found")
    base = basis(session, plan)
    counts = status_counts(session, dataset=dataset)
    with_sensitive = _count(session, select(func.count()).select_from(ImportRun).where(
        ImportRun.dataset_id == dataset.id, ImportRun.sensitive_rows > 0))  # fmt: skip
    last = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc())).first()
    p = keyring.provider
    blocking = _count(session, select(func.count()).select_from(ComplianceFinding).where(
        ComplianceFinding.plan_id == plan.id, ComplianceFinding.blocking.is_(True),
        ComplianceFinding.status == "open",
        ComplianceFinding.rule != "pia-signed-off"))  # fmt: skip
    return {
        "schema": SCHEMA,
        "basis": base,
        "deal": {"code": deal.code, "kind": deal.kind, "stage": deal.stage},
        "plan": {"status": plan.status, "required_roles": plan.required_roles},
        "inventory": {
            **_inventory(session, dataset.id),
            "customers": int(sum(counts.values())),
            "customers_active": int(counts.get("active", 0)),
            "imports_with_sensitive": with_sensitive,
        },
        "controls": {
            "encryption": {
                "provider": p.name,
                "master_key_version": p.active_version(),
                "data_key_version": dataset.data_key_version,
                "customer_keys": keyring.count_customer_keys(keys, dataset_id=dataset.id),
            },
            "access": _access(session, deal, plan, now),
            "audit": {
                "events": _count(
                    session,
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.deal == deal.code),
                ),
                "last_checkpoint": None
                if last is None
                else {"size": last.size, "at": last.at.isoformat(timespec="seconds")},
            },
            "canaries": _count(
                session, select(func.count()).select_from(Canary).where(Canary.deal_id == deal.id)
            ),
            "findings_blocking_open": blocking,
        },
    }


def create(
    session: Session, *, plan_id: int, inputs: dict[str, Any], by: str, now: datetime
) -> Pia:
    version = _count(session, select(func.coalesce(func.max(Pia.version), 0))
                     .where(Pia.plan_id == plan_id)) + 1  # fmt: skip
    row = Pia(plan_id=plan_id, version=version, inputs=canonical(inputs), sha256=digest(inputs),
              generated_by=by, generated_at=now, kept_until=kept_until(now))  # fmt: skip
    session.add(row)
    session.flush()
    return row


def get(session: Session, *, pia_id: int) -> Pia:
    row = session.get(Pia, pia_id)
    if row is None:
        raise NotFound(f"impact assessment {pia_id} not found")
    return row


def of_plan(session: Session, *, plan_id: int) -> list[Pia]:
    return list(session.scalars(select(Pia).where(Pia.plan_id == plan_id).order_by(Pia.version)))


def latest(session: Session, *, plan_id: int) -> Pia | None:
    return session.scalars(
        select(Pia).where(Pia.plan_id == plan_id).order_by(Pia.version.desc())
    ).first()


def signoffs(session: Session, *, pia_id: int) -> list[Signoff]:
    return list(
        session.scalars(select(Signoff).where(Signoff.pia_id == pia_id).order_by(Signoff.id))
    )


def sign(
    session: Session, row: Pia, *, role: str, by: str, note: str | None, now: datetime
) -> Signoff:
    done = {s.role: s for s in signoffs(session, pia_id=row.id)}
    if role in done:
        raise Conflict(f"impact assessment {row.id} is already signed off as {role} "
                       f"(by {done[role].person})")  # fmt: skip
    if by in {s.person for s in done.values()}:
        raise Conflict(f"{by} already signed impact assessment {row.id} in another role")
    out = Signoff(pia_id=row.id, role=role, person=by, at=now, note=(note or "").strip() or None)
    session.add(out)
    session.flush()
    return out


def inputs_of(row: Pia) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(row.inputs)
    return out


def is_stale(session: Session, row: Pia, plan: TransferPlan) -> bool:
    return bool(inputs_of(row).get("basis") != basis(session, plan))


def state(session: Session, plan: TransferPlan) -> str:
    """The plan's assessment for the gate: ``missing``, ``stale``, ``signed`` or
    ``unsigned:ROLE[,ROLE]`` (the sign-offs it lacks)."""
    row = latest(session, plan_id=plan.id)
    if row is None:
        return "missing"
    if is_stale(session, row, plan):
        return f"stale:{row.id}"
    have = {s.role for s in signoffs(session, pia_id=row.id)}
    lacking = [r for r in ROLES if r not in have]
    return f"unsigned:{row.id}:{','.join(lacking)}" if lacking else f"signed:{row.id}"
