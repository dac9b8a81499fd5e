"""Use case: what the acting person may see of a dataset now, before asking for it — the
highest level, the record levels open to them (and why none is), their grants in force with
the rows each may still deliver, and the groupings and measures its safe aggregates offer.
Decided as ``access.read``; recorded as ``access.level``. Nothing of a customer is read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import ALL_CATEGORIES, decide
from dealvault.access.grant_use import active_grants, rows_left
from dealvault.access.grants import split
from dealvault.access.policy import LEVELS
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.db.memo import remembered
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, completed, enforce, resolve
from dealvault.ingest.fields import TableRole
from dealvault.vault.models import DatasetColumn, DatasetTable

#: Record levels, most revealing first (what a records page may show).
RECORD_LEVELS = ("full", "masked", "pseudonymized", "anonymized")
#: Levels a read is decided at, most revealing first (``none`` is no read).
_READ_LEVELS = tuple(reversed(LEVELS[1:]))


class GrantLeftOut(BaseModel):
    """A grant in force on the dataset and what it may still deliver."""

    id: int
    level: str
    categories: list[str]
    purpose: str
    row_cap: int | None
    rows_used: int
    #: None: no row cap
    rows_left: int | None
    expires_at: datetime


class MyAccessOut(BaseModel):
    deal: str
    dataset: str
    stage: str
    roles: list[str]
    #: the highest level the person may read now (``none``: nothing)
    level: str
    #: per level the person may read now, the categories they may read at it
    categories: dict[str, list[str]]
    #: the record levels open now, most revealing first
    record_levels: list[str]
    #: when no record level is open: the decision's reasons at the lowest one
    reasons: list[str]
    grants: list[GrantLeftOut]
    #: what safe aggregates of the customers may be grouped by (``COLUMN:month``: by month)
    groupings: list[str]
    #: the measures they offer besides the number of customers
    measures: list[str]


def my_access(stores: AppStores, *, actor: Principal, deal: str, dataset: str) -> MyAccessOut:
    """The acting person's standing on ``dataset`` of ``deal``, now."""
    at = utcnow()
    with stores.unit_of_work() as uow, remembered(uow.records):
        s = uow.records
        person, d, ds = resolve(s, actor=actor, deal=deal, dataset=dataset)
        event = completed(
            EventIn(action="access.level", objects={"dataset": ds.name, "stage": d.stage}),
            actor=actor,
            deal=d,
        )
        enforce(stores, decide(s, actor=person, deal=d, action="access.read"), event)

        def allowed(level: str, cats: tuple[str, ...]) -> list[str]:
            return [
                c
                for c in cats
                if decide(
                    s, actor=person, deal=d, action="read", level=level, categories=[c],
                    dataset=ds.name, dataset_id=ds.id, at=at,
                ).allowed
            ]  # fmt: skip

        categories: dict[str, list[str]] = {}
        for level in _READ_LEVELS:
            cats = allowed(level, ALL_CATEGORIES)
            if cats:
                categories[level] = cats
        best = next((lv for lv in _READ_LEVELS if lv in categories), "none")
        records = [lv for lv in RECORD_LEVELS if lv in categories]
        reasons: list[str] = []
        if not records:
            lowest = decide(
                s, actor=person, deal=d, action="read", level=RECORD_LEVELS[-1],
                dataset=ds.name, dataset_id=ds.id, at=at,
            )  # fmt: skip
            reasons = list(lowest.reasons)
        grants = [
            GrantLeftOut(
                id=g.id, level=g.level, categories=split(g.categories), purpose=g.purpose,
                row_cap=g.row_cap, rows_used=g.rows_used, rows_left=rows_left(g),
                expires_at=g.expires_at,
            )
            for g in active_grants(s, person=person, deal=d, dataset_id=ds.id, at=at)
        ]  # fmt: skip
        groupings, measures = _aggregate_choices(s, dataset_id=ds.id)
        out = MyAccessOut(
            deal=d.code,
            dataset=ds.name,
            stage=d.stage,
            roles=sorted(r.value for r in access.member_roles(s, deal=d, person=person)),
            level=best,
            categories=categories,
            record_levels=records,
            reasons=reasons,
            grants=grants,
            groupings=groupings,
            measures=measures,
        )
        audit(
            stores,
            uow,
            replace(event, decision="allow", objects={**event.objects, "level": best}),
        )
        return out


def _aggregate_choices(s: Session, *, dataset_id: int) -> tuple[list[str], list[str]]:
    """The groupings and measures the dataset's canonical fields make possible: the
    quasi-identifiers the aggregate level derives (region, age band), non-identifying fields,
    and calendar periods of its dates; never a column that names a person (the aggregate
    level refuses those whatever is asked)."""
    rows = s.execute(
        select(DatasetTable.role, DatasetColumn.field)
        .join(DatasetTable, DatasetTable.id == DatasetColumn.table_id)
        .where(DatasetTable.dataset_id == dataset_id, DatasetColumn.field.is_not(None))
    ).all()
    fields: dict[str, set[str]] = {}
    for role, field in rows:
        if field:
            fields.setdefault(role, set()).add(field)
    customers = fields.get(TableRole.CUSTOMERS.value, set())
    orders = fields.get(TableRole.ORDERS.value, set())
    groupings: list[str] = []
    if customers & {"address", "id_number"}:
        groupings += ["province", "city"]
    if "gender" in customers:
        groupings.append("gender")
    if customers & {"birth_date", "id_number"}:
        groupings.append("age_band")
    groupings += [f for f in ("favourite_product", "purchase_frequency") if f in customers]
    if "registered_at" in customers:
        groupings += ["registered_at:month", "registered_at:year"]
    if "order_time" in orders:
        groupings += ["first_order:month"]
    measures = ["count"]
    if customers & {"birth_date", "id_number"}:
        measures.append("mean:age")
    if orders:
        measures.append("mean:order_count")
    if "amount" in orders:
        measures += ["sum:total_amount", "mean:total_amount"]
    return groupings, measures
