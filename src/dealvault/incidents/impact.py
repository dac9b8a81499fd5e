"""Impact analysis: the customers whose data reached the people or files of an incident, from
the audit log's disclosure events and their packed subject lists, counted in one Polars pass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Organization, Person
from dealvault.audit.models import AuditEvent, AuditEventSubjects
from dealvault.audit.service import subject_bytes
from dealvault.db.raw import raw_rows
from dealvault.incidents.schemas import RecipientImpact
from dealvault.transfer.canaries import SUBJECT_PREFIX as CANARY_PREFIX
from dealvault.transfer.models import TransferPlan
from dealvault.vault.models import Dataset, DatasetColumn, DatasetTable, ImportRun

#: Events that released customers' data to someone, with the subjects they released.
DISCLOSURES: Final = ("disclose", "package.build")
_BODY: Final = pl.Struct(
    {
        "objects": pl.Struct(
            {
                "dataset": pl.String,
                "recipient": pl.String,
                "level": pl.String,
                "categories": pl.String,
                "plan": pl.String,
            }
        )
    }
)


def load_disclosures(
    session: Session, *, deal: str, start: datetime, end: datetime
) -> pl.DataFrame:
    """The deal's allowed disclosure events in [start, end]: one row each (seq, actor,
    dataset, recipient, level, categories), decoded in one pass; their subject lists are read
    only for the events an incident selects (:func:`load_subjects`)."""
    stmt = (
        select(AuditEvent.seq, AuditEvent.actor, AuditEvent.body)
        .where(
            AuditEvent.deal == deal,
            AuditEvent.action.in_(DISCLOSURES),
            AuditEvent.decision == "allow",
            AuditEvent.at >= start,
            AuditEvent.at <= end,
        )
        .order_by(AuditEvent.seq)
    )
    rows = raw_rows(session.connection(), stmt)
    return events_frame(
        seqs=[int(r[0]) for r in rows],
        actors=[r[1] for r in rows],
        bodies=[bytes(r[2]) for r in rows],
    )


#: seqs per query when reading subject lists (under SQLite's bound-parameter limit)
_CHUNK: Final = 20_000


def load_subjects(session: Session, *, seqs: Sequence[int]) -> pl.DataFrame:
    """(seq, subject, canary) of the events ``seqs``: their packed subject lists read in
    chunks and unpacked in bulk."""
    parts = []
    for i in range(0, len(seqs), _CHUNK):
        chunk = list(seqs[i : i + _CHUNK])
        stmt = select(AuditEventSubjects.seq, AuditEventSubjects.packed).where(
            AuditEventSubjects.seq.in_(chunk)
        )
        rows = raw_rows(session.connection(), stmt)
        parts.append(
            subjects_frame(
                pl.Series("seq", [int(r[0]) for r in rows], dtype=pl.Int64),
                [bytes(r[1]) for r in rows],
            )
        )
    if not parts:
        return subjects_frame(pl.Series("seq", [], dtype=pl.Int64), [])
    return pl.concat(parts)


def events_frame(
    *, seqs: Sequence[int], actors: Sequence[str | None], bodies: Sequence[bytes]
) -> pl.DataFrame:
    """The events' fields the analysis reads, decoded in one pass."""
    schema = {
        "seq": pl.Int64,
        "actor": pl.String,
        "dataset": pl.String,
        "recipient": pl.String,
        "level": pl.String,
        "categories": pl.String,
        "plan": pl.Int64,
    }
    if not bodies:
        return pl.DataFrame(schema=schema)
    doc = pl.Series("b", bodies, dtype=pl.Binary).cast(pl.String).str.json_decode(_BODY)
    objects = doc.struct.field("objects").struct.unnest()
    return pl.DataFrame(
        {
            "seq": pl.Series(seqs, dtype=pl.Int64),
            "actor": pl.Series(actors, dtype=pl.String),
            **{k: objects.get_column(k) for k in ("dataset", "recipient", "level", "categories")},
            "plan": objects.get_column("plan").cast(pl.Int64, strict=False),
        },
        schema=schema,
    )


def subjects_frame(seqs: pl.Series, packed: Sequence[bytes]) -> pl.DataFrame:
    """(seq, subject, canary): every subject id of every event, unpacked in bulk (one
    decompression per compressed list; the split and explode in Polars); ``canary`` marks the
    planted customers (not people: counted apart)."""
    joined = pl.Series("subject", [subject_bytes(p) for p in packed], dtype=pl.Binary)
    return (
        pl.DataFrame({"seq": seqs, "subject": joined.cast(pl.String)})
        .with_columns(pl.col("subject").str.split("\n"))
        .explode("subject")
        .filter(pl.col("subject").is_not_null() & (pl.col("subject") != ""))
        .with_columns(pl.col("subject").str.starts_with(CANARY_PREFIX).alias("canary"))
    )


def with_plan_categories(session: Session, events: pl.DataFrame) -> pl.DataFrame:
    """Transfer packages carry the categories of their plan: filled in where the event names
    a plan and no categories; a package's level is ``package``."""
    ids = events.get_column("plan").drop_nulls().unique().to_list()
    rows = (
        session.execute(
            select(TransferPlan.id, TransferPlan.categories).where(TransferPlan.id.in_(ids))
        ).all()
        if ids
        else []
    )
    plans = pl.DataFrame(
        [(int(i), c) for i, c in rows],
        schema={"plan": pl.Int64, "plan_categories": pl.String},
        orient="row",
    )
    return (
        events.join(plans, on="plan", how="left")
        .with_columns(
            pl.col("categories").fill_null(pl.col("plan_categories")),
            pl.col("level").fill_null(
                pl.when(pl.col("plan").is_not_null()).then(pl.lit("package"))
            ),
        )
        .drop("plan_categories")
    )


def dataset_categories(session: Session, *, deal: Deal) -> pl.DataFrame:
    """(dataset, category, sensitive): the categories of each dataset's columns, and whether
    any column of that category holds sensitive personal information."""
    rows = session.execute(
        select(Dataset.name, DatasetColumn.category, DatasetColumn.sensitive)
        .join(DatasetTable, DatasetTable.dataset_id == Dataset.id)
        .join(DatasetColumn, DatasetColumn.table_id == DatasetTable.id)
        .where(Dataset.deal_id == deal.id)
    ).all()
    frame = pl.DataFrame(
        [(d, c, bool(s)) for d, c, s in rows],
        schema={"dataset": pl.String, "category": pl.String, "sensitive": pl.Boolean},
        orient="row",
    )
    return frame.group_by("dataset", "category").agg(pl.col("sensitive").any())


def minors_imported(session: Session, *, deal: Deal, datasets: Sequence[str]) -> int:
    """Minors counted when the datasets (every one of the deal when none is named) were
    imported: no customer is a minor when this is 0, else an upper bound of the minors reached
    (the log names customers, not their ages; reading ages would be a disclosure)."""
    q = (
        select(func.coalesce(func.sum(ImportRun.minors), 0))
        .join(Dataset, Dataset.id == ImportRun.dataset_id)
        .where(Dataset.deal_id == deal.id)
    )
    if datasets:
        q = q.where(Dataset.name.in_(list(datasets)))
    return int(session.scalar(q) or 0)


def organisations_of(session: Session, *, people: Sequence[str]) -> list[str]:
    """The organisations of the people involved (what was released to them reached them)."""
    if not people:
        return []
    rows = session.scalars(
        select(Organization.name)
        .join(Person, Person.organization_id == Organization.id)
        .where(Person.email.in_(list(people)))
    )
    return sorted(set(rows))


def select_involved(
    events: pl.DataFrame,
    *,
    people: Sequence[str],
    organisations: Sequence[str],
    datasets: Sequence[str],
) -> pl.DataFrame:
    """The events that reached the people involved (they took the data out, or it was
    released to their organisation) or released the files involved; every event when the
    incident names neither people nor files."""
    if not people and not datasets:
        return events
    return events.filter(
        pl.col("actor").is_in(list(people))
        | pl.col("recipient").is_in(list(organisations))
        | pl.col("dataset").is_in(list(datasets))
    )


def analyse(
    events: pl.DataFrame, subjects: pl.DataFrame, categories: pl.DataFrame
) -> dict[str, Any]:
    """Counts over the released (event, subject) pairs: customers, per category, sensitivity,
    level and recipient, and the sorted subject ids. Subjects are counted as integer codes;
    each event's categories come from its (dataset, categories) combination, of which a deal
    has few."""
    ev = events.with_columns(pl.col("recipient").fill_null(pl.col("actor"))).with_columns(
        pl.concat_str(
            [pl.col("dataset").fill_null(""), pl.col("categories").fill_null("all")],
            separator="|",
        ).alias("combo")
    )
    canaries = subjects.filter(pl.col("canary")).get_column("subject").n_unique()
    real = subjects.filter(~pl.col("canary"))
    ids = real.get_column("subject").unique().sort()
    pairs = real.select(
        "seq", pl.col("subject").cast(pl.Enum(ids.to_list())).to_physical().alias("sid")
    ).join(ev.select("seq", "level", "recipient", "actor", "combo"), on="seq")
    released = (
        pairs.select("sid", "combo")
        .unique()
        .join(_combo_categories(ev, categories), on="combo")
        .select("sid", "category", "sensitive")
    )
    by_category = released.group_by("category").agg(pl.col("sid").n_unique().alias("n"))
    sensitive = released.filter(pl.col("sensitive")).get_column("sid").n_unique()
    customers = ids.len()
    by_level = pairs.group_by("level").agg(pl.col("sid").n_unique().alias("n"))
    holders = (
        pairs.group_by("recipient")
        .agg(
            pl.col("sid").n_unique().alias("customers"),
            pl.col("seq").n_unique().alias("events"),
            pl.col("actor").unique().sort().alias("people"),
        )
        .sort("customers", "recipient", descending=[True, False])
    )
    return {
        "events": ev.height,
        "customers": customers,
        "canaries": canaries,
        "by_category": _counts(by_category, "category"),
        "by_sensitivity": {"sensitive": sensitive, "general": customers - sensitive},
        "by_level": _counts(by_level, "level"),
        "recipients": [
            RecipientImpact(
                recipient=str(r["recipient"]),
                people=[p for p in r["people"] if p],
                customers=int(r["customers"]),
                events=int(r["events"]),
            )
            for r in holders.iter_rows(named=True)
        ],
        "subject_ids": ids.to_list(),
    }


def _combo_categories(events: pl.DataFrame, categories: pl.DataFrame) -> pl.DataFrame:
    """(combo, category, sensitive): the categories each (dataset, categories) combination
    released: those the event names, else every category of the dataset."""
    combos = events.select("combo", "dataset", "categories").unique("combo")
    return (
        combos.with_columns(
            pl.when(pl.col("categories").is_null() | (pl.col("categories") == "all"))
            .then(None)
            .otherwise(pl.col("categories").str.split(","))
            .alias("named")
        )
        .join(categories, on="dataset", how="inner")
        .filter(pl.col("named").is_null() | pl.col("named").list.contains(pl.col("category")))
        .select("combo", "category", "sensitive")
    )


def _counts(frame: pl.DataFrame, key: str) -> dict[str, int]:
    return {
        str(k): int(n) for k, n in frame.sort(key).select(key, "n").iter_rows() if k is not None
    }
