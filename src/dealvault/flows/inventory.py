"""Use cases: the data inventory of a dataset, and manual overrides of column classification."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from sqlalchemy import func, select

from dealvault.access.decision import decide
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db.base import utcnow
from dealvault.errors import Invalid, NotFound
from dealvault.files import write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce, resolve
from dealvault.ingest.fields import Category
from dealvault.vault import service as vault
from dealvault.vault.colstats import SKETCH_K
from dealvault.vault.models import CustomerRecord, DatasetColumn, DatasetTable, ImportRun

#: Thresholds for suggesting the Data Security Law grade "important" (a heuristic, see docs).
IMPORTANT_CUSTOMERS = 1_000_000
IMPORTANT_SENSITIVE = 100_000


class ColumnOut(BaseModel):
    table: str
    column: str
    field: str | None
    pii_type: str | None
    category: str
    sensitive: bool
    confidence: float
    override: str | None
    fill_rate: float
    #: distinct values: counted exactly below SKETCH_K, else a KMV estimate (never above the
    #: filled cells)
    distinct: int
    distinct_exact: bool


class InventoryOut(BaseModel):
    deal: str
    dataset: str
    generated_at: str
    customers: int
    customers_active: int
    customers_with_sensitive: int
    minors_imported: int
    grade: str
    grade_reason: str
    columns: list[ColumnOut]


def _column_out(table: str, c: DatasetColumn) -> ColumnOut:
    return ColumnOut(
        table=table,
        column=c.source_name,
        field=c.field,
        pii_type=c.override or c.pii_type,
        category=c.category,
        sensitive=c.sensitive,
        confidence=round(c.confidence, 3),
        override=c.override,
        fill_rate=round(c.non_null / c.rows, 4) if c.rows else 0.0,
        distinct=min(c.distinct_est, c.non_null),
        distinct_exact=c.distinct_est < SKETCH_K,
    )


def suggest_grade(*, customers: int, sensitive: int) -> tuple[str, str]:
    if customers >= IMPORTANT_CUSTOMERS:
        return "important", f"personal information of {customers:,} people (>= 1,000,000)"
    if sensitive >= IMPORTANT_SENSITIVE:
        return "important", f"sensitive personal information of {sensitive:,} people (>= 100,000)"
    return "general", (
        f"{customers:,} people, {sensitive:,} with sensitive personal information "
        "(below the 1,000,000 / 100,000 thresholds)"
    )


def inventory(stores: AppStores, *, actor: Principal, deal: str, dataset: str) -> InventoryOut:
    """Every column with its classification and fill statistics, and the dataset's counts."""
    with stores.unit_of_work() as uow:
        s = uow.records
        person, d, ds = resolve(s, actor=actor, deal=deal, dataset=dataset)
        event = EventIn(
            action="inventory",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            objects={"dataset": ds.name, "level": "metadata", "stage": d.stage},
        )
        enforce(stores, decide(s, actor=person, deal=d, action="read", level="metadata"), event)
        counts = vault.dataset_counts(s, dataset=ds)
        sensitive = int(
            s.scalar(
                select(func.count())
                .select_from(CustomerRecord)
                .where(
                    CustomerRecord.dataset_id == ds.id,
                    CustomerRecord.status == "active",
                    CustomerRecord.enc_sensitive.is_not(None),
                )
            )
            or 0
        )
        minors = int(
            s.scalar(
                select(func.coalesce(func.sum(ImportRun.minors), 0)).where(
                    ImportRun.dataset_id == ds.id
                )
            )
            or 0
        )
        rows = s.execute(
            select(DatasetTable.name, DatasetColumn)
            .join(DatasetColumn, DatasetColumn.table_id == DatasetTable.id)
            .where(DatasetTable.dataset_id == ds.id)
            .order_by(DatasetTable.id, DatasetColumn.id)
        ).all()
        columns = [_column_out(t, c) for t, c in rows]
        grade, reason = suggest_grade(customers=counts["active"], sensitive=sensitive)
        audit(stores, uow, replace(event, decision="allow"))
        return InventoryOut(
            deal=d.code,
            dataset=ds.name,
            generated_at=utcnow().isoformat(timespec="seconds"),
            customers=counts["customers"],
            customers_active=counts["active"],
            customers_with_sensitive=sensitive,
            minors_imported=minors,
            grade=grade,
            grade_reason=reason,
            columns=columns,
        )


def render_inventory_html(inv: InventoryOut) -> str:
    env = Environment(
        loader=PackageLoader("dealvault", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("inventory.html.j2").render(inv=inv)


def write_inventory_html(inv: InventoryOut, *, out: Path) -> None:
    write_private(out, render_inventory_html(inv))


def override_column(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    table: str,
    column: str,
    pii_type: str | None,
    category: str | None,
    sensitive: bool | None,
) -> ColumnOut:
    """A person's classification of a column; kept through later re-classification."""
    if category is not None and category not in {c.value for c in Category}:
        raise Invalid(f"unknown category {category!r}")
    with stores.unit_of_work() as uow:
        s = uow.records
        person, d, ds = resolve(s, actor=actor, deal=deal, dataset=dataset)
        event = EventIn(
            action="classify.override",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=d.code,
            objects={
                "dataset": ds.name,
                "table": table,
                "column": column,
                "pii_type": pii_type,
                "category": category,
            },
        )
        enforce(stores, decide(s, actor=person, deal=d, action="dataset.override"), event)
        row = s.execute(
            select(DatasetColumn)
            .join(DatasetTable, DatasetTable.id == DatasetColumn.table_id)
            .where(
                DatasetTable.dataset_id == ds.id,
                DatasetTable.name == table,
                DatasetColumn.source_name == column,
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"column {column!r} of table {table!r} not found in {dataset!r}")
        if pii_type is not None:
            row.override = pii_type
        if category is not None:
            row.category = category
        if sensitive is not None:
            row.sensitive = sensitive
        row.confidence = 1.0
        s.flush()
        audit(stores, uow, replace(event, decision="allow"))
        return _column_out(table, row)
