"""Impact analysis: the customers whose data reached the people or files of an incident, from
the audit log's disclosure events and their packed subject lists, counted in one Polars pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


#: the event body's ``objects`` member: canonical JSON (RFC 8785) sorts its keys, escapes every
#: quote inside a string, and the member holds only strings and numbers, so this finds it whole
_OBJECTS: Final = r'"objects":(\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})'
_OBJECT_FIELDS: Final = _BODY.fields[0].dtype


def events_frame(
    *, seqs: Sequence[int], actors: Sequence[str | None], bodies: Sequence[bytes]
) -> pl.DataFrame:
    """The events' fields the analysis reads. A deal's disclosures repeat a few ``objects``
    members (dataset, level, recipient), so each distinct one is decoded once; a body where
    that shortcut does not hold is decoded whole."""
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
    text = pl.Series("b", bodies, dtype=pl.Binary).cast(pl.String)
    members = text.str.extract(_OBJECTS, 1).alias("member")
    distinct = members.drop_nulls().unique()
    try:
        decoded = pl.DataFrame(
            {"member": distinct, "o": distinct.str.json_decode(_OBJECT_FIELDS)}
        ).unnest("o")
    except pl.exceptions.PolarsError:  # not the canonical form: decode every body whole
        decoded = None
    if decoded is None or members.null_count():
        objects = text.str.json_decode(_BODY).struct.field("objects").struct.unnest()
    else:
        objects = pl.DataFrame({"member": members}).join(
            decoded, on="member", how="left", maintain_order="left"
        )
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
    """(seq, subjects): each event's subject ids, decompressed and joined by newlines (split
    in :func:`analyse`, once the events are grouped)."""
    joined = pl.Series("subjects", [subject_bytes(p) for p in packed], dtype=pl.Binary)
    return pl.DataFrame({"seq": seqs, "subjects": joined.cast(pl.String)})


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


#: seeds of the two 64-bit hashes that stand for subject ids while counting
_SEEDS: Final = (0x5EED_1D5, 0xC0FF_EE5)


def analyse(
    events: pl.DataFrame, subjects: pl.DataFrame, categories: pl.DataFrame
) -> dict[str, Any]:
    """Counts over the released (event, subject) pairs: customers, per category, sensitivity,
    level and recipient, and the sorted subject ids.

    The events fall into a few groups (dataset and categories, level, recipient); the pairs
    are reduced to the distinct (group, subject) before anything is counted. A subject is
    counted by a 64-bit hash of its id; a second, independent hash checks that no two ids
    share the first (else the ids themselves are coded, exactly and more slowly)."""
    ev = events.with_columns(pl.col("recipient").fill_null(pl.col("actor"))).with_columns(
        pl.concat_str(
            [pl.col("dataset").fill_null(""), pl.col("categories").fill_null("all")],
            separator="|",
        ).alias("combo")
    )
    groups = ev.select("combo", "level", "recipient").unique().with_row_index("g")
    ev = ev.join(groups, on=["combo", "level", "recipient"], how="left", nulls_equal=True)
    pairs = (
        subjects.join(ev.select("seq", "g"), on="seq")
        .with_columns(pl.col("subjects").str.split("\n"))
        .explode("subjects")
        .rename({"subjects": "subject"})
        .filter(pl.col("subject").is_not_null() & (pl.col("subject") != ""))
    )
    canary = pl.col("subject").str.starts_with(CANARY_PREFIX)
    canaries = pairs.filter(canary).get_column("subject").n_unique()
    real = pairs.filter(~canary)
    real, ids = _coded(real)
    released = (  # faster than a unique over both columns
        real.group_by("g").agg(pl.col("h").unique()).explode("h").join(groups, on="g")
    )
    by_category = (
        released.select("combo", "h")
        .unique()
        .join(_combo_categories(ev, categories), on="combo")
        .select("h", "category", "sensitive")
    )
    per_category = by_category.group_by("category").agg(pl.col("h").n_unique().alias("n"))
    sensitive = by_category.filter(pl.col("sensitive")).get_column("h").n_unique()
    customers = ids.len()
    by_level = released.group_by("level").agg(pl.col("h").n_unique().alias("n"))
    reached = ev.filter(pl.col("seq").is_in(real.get_column("seq").unique().implode()))
    holders = (
        released.group_by("recipient")
        .agg(pl.col("h").n_unique().alias("customers"))
        .join(
            reached.group_by("recipient").agg(
                pl.len().alias("events"), pl.col("actor").unique().sort().alias("people")
            ),
            on="recipient",
        )
        .sort("customers", "recipient", descending=[True, False])
    )
    return {
        "events": ev.height,
        "customers": customers,
        "canaries": canaries,
        "by_category": _counts(per_category, "category"),
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


def _hashed(ids: pl.Expr) -> pl.Expr:
    return ids.hash(_SEEDS[0])


def _coded(
    pairs: pl.DataFrame, *, code: Callable[[pl.Expr], pl.Expr] = _hashed
) -> tuple[pl.DataFrame, pl.Series]:
    """The pairs with a code ``h`` standing for each subject id, and the sorted distinct ids.
    The code is a 64-bit hash when a second hash finds as many distinct ids as it (two ids
    sharing the first hash would make the counts differ); otherwise each id's rank."""
    coded = pairs.with_columns(code(pl.col("subject")).alias("h"))
    firsts = coded.select("h", "subject").unique(subset="h", keep="any")
    check = coded.get_column("subject").hash(_SEEDS[1]).n_unique()
    if check == firsts.height:
        return coded.drop("subject"), firsts.get_column("subject").sort()
    ids = pairs.get_column("subject").unique().sort()
    exact = pairs.with_columns(
        pl.col("subject").cast(pl.Enum(ids.to_list())).to_physical().cast(pl.UInt64).alias("h")
    )
    return exact.drop("subject"), ids


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
