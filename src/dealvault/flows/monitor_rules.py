"""Use cases of the monitoring rules and the monitor's state: show, validate, history, the
audited change, and how far the monitor has read the log."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.audit.models import AuditEvent
from dealvault.audit.service import EventIn
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint
from dealvault.monitor import rules as registry
from dealvault.monitor.models import Alert, MonitorState
from dealvault.monitor.rules import KINDS, RuleSet


class RuleOut(BaseModel):
    id: str
    kind: str
    severity: str
    freeze: bool
    params: dict[str, Any]
    help: str = Field(description="What the kind of detector looks at.")


class RulesOut(BaseModel):
    """The rules in force (or of a file): every rule with its effective parameters."""

    version: int
    source: str  # "shipped default", "stored" or "file"
    sha256: str
    description: str
    utc_offset: str
    rules: list[RuleOut]
    text: str


class RulesVersionOut(BaseModel):
    version: int
    sha256: str
    actor: str | None
    comment: str | None
    created_at: datetime
    in_force: bool


class StatusOut(BaseModel):
    """How far the monitor has read the log, and the alerts it holds."""

    last_seq: int = Field(description="The last event evaluated (-1: none).")
    log_size: int = Field(description="Events in the log.")
    behind: int = Field(description="Events not evaluated yet.")
    last_checkpoint: int
    updated_at: datetime | None
    rules_version: int
    alerts_open: int
    alerts: int


def rules_view(rs: RuleSet, *, source: str) -> RulesOut:
    return RulesOut(
        version=rs.version,
        source=source,
        sha256=rs.sha256,
        description=rs.description,
        utc_offset=rs.utc_offset,
        rules=[
            RuleOut(
                id=r.id,
                kind=r.kind,
                severity=r.severity,
                freeze=r.freeze,
                params=dict(r.params),
                help=KINDS[r.kind].help,
            )
            for r in rs.rules
        ],
        text=rs.text,
    )


def validate(text: str) -> RulesOut:
    """Would this file be accepted? (Invalid names the rule and key; nothing is read.)"""
    return rules_view(registry.parse_rules(text), source="file")


def show(stores: AppStores, *, actor: Principal) -> RulesOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="monitor.read",
            event=EventIn(action="monitor.rules_show"),
        )
        rs = registry.active_rules(s)
        audit(stores, uow, replace(event, objects={"version": rs.version}))
        return rules_view(rs, source="stored" if rs.version else "shipped default")


def history(stores: AppStores, *, actor: Principal) -> list[RulesVersionOut]:
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="monitor.read",
            event=EventIn(action="monitor.rules_show"),
        )
        rows = registry.rule_versions(s)
        names = access.emails_by_id(s, ids=(r.actor_id for r in rows))
        audit(stores, uow, replace(event, objects={"history": "yes"}))
        last = rows[-1].version if rows else None
        return [
            RulesVersionOut(
                version=r.version,
                sha256=r.sha256,
                actor=names.get(r.actor_id) if r.actor_id is not None else None,
                comment=r.comment,
                created_at=r.created_at,
                in_force=r.version == last,
            )
            for r in rows
        ]


def set_rules(stores: AppStores, *, actor: Principal, text: str, comment: str) -> RulesOut:
    """Put a rules file in force as the next version (validated; audited with both digests,
    and anchored by a signed checkpoint)."""
    if not comment.strip():
        raise Invalid("a comment is required: why the rules change")
    with stores.unit_of_work() as uow:
        s = uow.records
        person, event = authorize(
            stores,
            s,
            actor=actor,
            action="monitor.configure",
            event=EventIn(action="monitor.rules_set", purpose=comment),
        )
        before = registry.active_rules(s)
        row, rs = registry.set_rules(s, text=text, actor=person, comment=comment)
        audit(
            stores,
            uow,
            replace(
                event,
                objects={
                    "version": row.version,
                    "sha256": rs.sha256,
                    "previous_version": before.version,
                    "previous_sha256": before.sha256,
                },
                counts={"rules": len(rs.rules)},
            ),
        )
        checkpoint(stores, uow, reason="monitoring rules changed")
        return rules_view(rs, source="stored")


def status(stores: AppStores, *, actor: Principal) -> StatusOut:
    with stores.unit_of_work() as uow:
        s = uow.records
        _, event = authorize(
            stores, s, actor=actor, action="monitor.read", event=EventIn(action="monitor.status")
        )
        state = s.get(MonitorState, "events")
        size = s.scalar(select(func.max(AuditEvent.seq)))
        log_size = -1 if size is None else int(size)
        last = state.last_seq if state is not None else -1
        out = StatusOut(
            last_seq=last,
            log_size=log_size + 1,
            behind=max(0, log_size - last),
            last_checkpoint=state.last_checkpoint if state is not None else 0,
            updated_at=state.updated_at if state is not None else None,
            rules_version=registry.active_rules(s).version,
            alerts_open=s.scalar(
                select(func.count()).select_from(Alert).where(Alert.status == "open")
            )
            or 0,
            alerts=s.scalar(select(func.count()).select_from(Alert)) or 0,
        )
        audit(stores, uow, event)
        return out
