"""PIPL art. 22 notices of a transfer plan: who is to be notified, the notices' values, the
gateway's statuses applied (an objection weighed against its customer's window) and the state
per customer and reason. Service functions on the bulk notices (``dealvault.notices``); the
flows decide, audit and commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import polars as pl
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from dealvault.db.bulk import fetch_tuples
from dealvault.errors import Conflict
from dealvault.notices import service as bulk
from dealvault.notices.models import NoticeBatch, NoticeDelivery
from dealvault.transfer.manifest import NOTICE_REASONS
from dealvault.transfer.models import TransferPackage, TransferPlan
from dealvault.vault.models import CustomerRecord

TEMPLATE_SET: Final = "transfer"
#: what the gateway may report for a transfer notice (``objected``: the customer objects)
STATUSES: Final = (*bulk.STATUSES, "objected")
#: the gateway's statuses of a notice that did not reach its customer
UNREACHED: Final = ("failed", "bounced", "unreachable")
#: the counts in the manifest, in this order
REASONS: Final = NOTICE_REASONS
_CHUNK: Final = 5_000
#: a customer's state over all its deliveries: the best one counts
_RANK: Final = {"objected": 3, "delivered": 2, "pending": 1}

CATEGORY_NAMES: Final = {
    "zh": {
        "identity": "身份信息",
        "contact": "联系方式",
        "transaction": "交易记录",
        "preference": "偏好信息",
        "sensitive": "敏感个人信息",
        "free_text": "备注信息",
    },
    "en": {
        "identity": "identity data",
        "contact": "contact details",
        "transaction": "transaction records",
        "preference": "preferences",
        "sensitive": "sensitive personal information",
        "free_text": "notes",
    },
}


def ref(plan_id: int) -> str:
    """The notice batches' reference of a plan."""
    return f"plan:{plan_id}"


def built_packages(session: Session, plan: TransferPlan) -> list[int]:
    return list(
        session.scalars(
            select(TransferPackage.id)
            .where(TransferPackage.plan_id == plan.id)
            .order_by(TransferPackage.id)
        )
    )


def _active(plan: TransferPlan) -> Select[Any]:
    return select(CustomerRecord.subject_id).where(
        CustomerRecord.dataset_id == plan.dataset_id, CustomerRecord.status == "active"
    )


def active_subjects(session: Session, plan: TransferPlan) -> list[str]:
    """Subject ids of the active customers of the plan's dataset, in order."""
    return [r[0] for r in fetch_tuples(session, _active(plan).order_by(CustomerRecord.subject_id))]


def _active_count(session: Session, plan: TransferPlan) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CustomerRecord)
            .where(CustomerRecord.dataset_id == plan.dataset_id, CustomerRecord.status == "active")
        )
        or 0
    )


def deadline_text(day: date, lang: str) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else f"{day:%d %B %Y}"


def context(
    plan: TransferPlan, *, seller: str, recipient: str, contact: str, deadline: date
) -> dict[str, dict[str, str]]:
    """Per language, the values of a transfer notice's placeholders (none is a customer's)."""
    cats = [c for c in plan.categories.split(",") if c]
    out: dict[str, dict[str, str]] = {}
    for lang, names in CATEGORY_NAMES.items():
        out[lang] = {
            "seller": seller,
            "recipient": recipient,
            "recipient_contact": plan.recipient_contact,
            "purpose": plan.purpose,
            "categories": ("、" if lang == "zh" else ", ").join(names.get(c, c) for c in cats),
            "days": str(plan.objection_days),
            "deadline": deadline_text(deadline, lang),
            "contact": contact,
        }
    return out


def deliveries(session: Session, plan: TransferPlan) -> pl.DataFrame:
    """Every delivery of the plan's batches: subject_id, status, status_at, delivered_at."""
    rows = session.execute(
        select(
            NoticeDelivery.subject_id,
            NoticeDelivery.status,
            NoticeDelivery.status_at,
            NoticeDelivery.delivered_at,
        )
        .join(NoticeBatch, NoticeBatch.id == NoticeDelivery.batch_id)
        .where(NoticeBatch.ref == ref(plan.id))
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "subject_id": pl.String,
            "status": pl.String,
            "status_at": pl.Datetime("us", "UTC"),
            "delivered_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def per_customer(frame: pl.DataFrame, *, days: int) -> pl.DataFrame:
    """One row per customer notified: ``state`` (objected, delivered, pending or unreachable:
    the best of its deliveries), ``delivered_at`` (the first delivery), ``window_end`` and
    ``late`` (it objected after its window)."""
    rank = pl.col("status").replace_strict(_RANK, default=0, return_dtype=pl.Int8)
    objected_at = pl.when(pl.col("status") == "objected").then(pl.col("status_at"))
    grouped = frame.group_by("subject_id").agg(
        rank.max().alias("rank"),
        pl.col("delivered_at").min(),
        objected_at.min().alias("objected_at"),
    )
    state = (
        pl.when(pl.col("rank") == 3)
        .then(pl.lit("objected"))
        .when(pl.col("rank") == 2)
        .then(pl.lit("delivered"))
        .when(pl.col("rank") == 1)
        .then(pl.lit("pending"))
        .otherwise(pl.lit("unreachable"))
    )
    end = pl.col("delivered_at") + pl.duration(days=days)
    return grouped.select(
        "subject_id",
        state.alias("state"),
        "delivered_at",
        end.alias("window_end"),
        (pl.col("objected_at").is_not_null() & (pl.col("objected_at") > end))
        .fill_null(False)
        .alias("late"),
    )


@dataclass(frozen=True)
class NoticeState:
    """A plan's notices per reason (every customer notified, whatever its status now) and,
    for its customers still active, what the compliance gate weighs."""

    batches: int
    counts: Mapping[str, int]
    #: when the last delivered customer's window ends (None: no delivery yet)
    window_ends: datetime | None
    #: active customers of the dataset: with no notice, notice pending, window open, unreached
    uncovered: int = 0
    pending: int = 0
    windows_open: int = 0
    open_until: datetime | None = None
    unreached: int = 0
    active: int = 0


def state(
    session: Session, plan: TransferPlan, *, now: datetime | None = None, gate: bool = False
) -> NoticeState:
    """The plan's notices per reason; with ``gate`` also the active customers' coverage and
    the windows still open at ``now``."""
    batches = len(bulk.batches_of(session, ref=ref(plan.id)))
    people = per_customer(deliveries(session, plan), days=plan.objection_days)
    by_state = dict(people.group_by("state").len().iter_rows())
    counts = {
        "notified": people.height,
        "delivered": int(by_state.get("delivered", 0)) + int(by_state.get("objected", 0)),
        "unreachable": int(by_state.get("unreachable", 0)),
        "pending": int(by_state.get("pending", 0)),
        "objected": int(by_state.get("objected", 0)),
        "objected_late": int(people.get_column("late").sum()),
    }
    ends = people.filter(pl.col("state") == "delivered").get_column("window_end")
    last = ends.max() if ends.len() else None
    window_ends = last if isinstance(last, datetime) else None
    if not gate:
        return NoticeState(batches=batches, counts=counts, window_ends=window_ends)
    assert now is not None
    if people.height == 0:  # nobody notified yet: every active customer is uncovered
        n = _active_count(session, plan)
        return NoticeState(
            batches=batches, counts=counts, window_ends=window_ends, uncovered=n, active=n
        )
    active = pl.DataFrame(
        {"subject_id": [r[0] for r in fetch_tuples(session, _active(plan))]},
        schema={"subject_id": pl.String},
    )
    joined = active.join(people, on="subject_id", how="left")
    opened = joined.filter((pl.col("state") == "delivered") & (pl.col("window_end") > now))
    until = opened.get_column("window_end").max() if opened.height else None
    return NoticeState(
        batches=batches,
        counts=counts,
        window_ends=window_ends,
        uncovered=joined.filter(pl.col("state").is_null()).height,
        pending=joined.filter(pl.col("state") == "pending").height,
        windows_open=opened.height,
        open_until=until if isinstance(until, datetime) else None,
        unreached=joined.filter(pl.col("state") == "unreachable").height,
        active=active.height,
    )


def manifest_counts(session: Session, plan: TransferPlan) -> dict[str, int]:
    """The manifest's ``notices`` object: customers per reason."""
    counts = state(session, plan).counts
    return {k: int(counts.get(k, 0)) for k in REASONS}


def to_notify(session: Session, plan: TransferPlan) -> list[str]:
    """Active customers of the plan's dataset whose notice has not reached them and is not
    on its way: all of them at the first batch; later, those never notified or unreached."""
    people = per_customer(deliveries(session, plan), days=plan.objection_days)
    done = set(
        people.filter(pl.col("state").is_in(("objected", "delivered", "pending")))
        .get_column("subject_id")
        .to_list()
    )
    return [s for s in active_subjects(session, plan) if s not in done]


@dataclass(frozen=True)
class Applied:
    """What a status file changed: rows per status, the customers who objected now (their
    subject ids) and how many of them objected after their window."""

    rows: Mapping[str, int]
    objected: Sequence[str]
    late: int
    kept: int
    batches: Sequence[int]


def apply_status(
    session: Session, *, plan: TransferPlan, status: pl.DataFrame, file: str
) -> Applied:
    """Apply a checked status file (``notices.service.read_status_file``) to the plan's
    deliveries. A delivery id of no batch of the plan is refused naming its row. An objection
    stands: a later status of an objected delivery is kept out (``kept``). A delivery keeps
    the time it was first delivered; an objection without one was delivered when it was made.
    A new objection once a package of the plan was built is refused (Conflict) before
    anything changes. ``late``: the customers who objected now after their window, which runs
    from their first delivery (as :func:`per_customer` counts them)."""
    batch_ids = [b.id for b in bulk.batches_of(session, ref=ref(plan.id))]
    ids = status.get_column("delivery_id").to_list()
    known: list[tuple[Any, ...]] = []
    for i in range(0, len(ids), _CHUNK):
        known += [
            tuple(r)
            for r in session.execute(
                select(
                    NoticeDelivery.id,
                    NoticeDelivery.batch_id,
                    NoticeDelivery.subject_id,
                    NoticeDelivery.status,
                    NoticeDelivery.status_at,
                    NoticeDelivery.delivered_at,
                ).where(
                    NoticeDelivery.id.in_(ids[i : i + _CHUNK]),
                    NoticeDelivery.batch_id.in_(batch_ids),
                )
            ).all()
        ]
    found = pl.DataFrame(
        known,
        schema={
            "delivery_id": pl.String,
            "batch_id": pl.Int64,
            "subject_id": pl.String,
            "was": pl.String,
            "was_at": pl.Datetime("us", "UTC"),
            "was_delivered": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    joined = status.join(found, on="delivery_id", how="left")
    bulk.refuse_rows(
        file,
        joined.filter(pl.col("batch_id").is_null()).select(
            "row",
            pl.lit("delivery_id").alias("column"),
            pl.lit("is no delivery of this plan's notices").alias("why"),
        ),
    )
    stands = pl.col("was") == "objected"
    new = joined.with_columns(
        stands.alias("kept"),
        (~stands & (pl.col("status") == "objected")).alias("objection"),
    ).with_columns(
        pl.when("kept").then(pl.col("was")).otherwise(pl.col("status")).alias("new_status"),
        pl.when("kept").then(pl.col("was_at")).otherwise(pl.col("at")).alias("new_at"),
        pl.when(pl.col("status").is_in(("delivered", "objected")) & ~pl.col("kept"))
        .then(pl.min_horizontal("was_delivered", "at"))
        .otherwise(pl.col("was_delivered"))
        .alias("new_delivered"),
    )
    objections = new.filter("objection")
    if objections.height:
        built = built_packages(session, plan)
        if built:
            raise Conflict(
                f"{file}: {objections.height} objection(s) to transfer plan {plan.id}, whose "
                f"package {built[0]} was already built: an objection cannot stop a package "
                "handed over; nothing was imported (handle them with the recipient, who must "
                "honour the customer's rights)"
            )
    params: list[dict[str, Any]] = (
        new.filter(~pl.col("kept"))
        .select(
            pl.col("delivery_id").alias("id"),
            pl.col("new_status").alias("status"),
            pl.col("new_at").alias("status_at"),
            pl.col("new_delivered").alias("delivered_at"),
        )
        .to_dicts()
    )
    for i in range(0, len(params), _CHUNK):  # ORM bulk update by primary key
        session.execute(update(NoticeDelivery), params[i : i + _CHUNK])
    touched = sorted(set(new.get_column("batch_id").to_list()))
    for b in touched:
        bulk.recount(session, batch_id=b)
    objected = sorted(set(objections.get_column("subject_id").to_list()))
    session.flush()
    people = per_customer(deliveries(session, plan), days=plan.objection_days)
    late = people.filter(pl.col("subject_id").is_in(objected) & pl.col("late")).height
    return Applied(
        rows=dict(new.group_by("status").len().iter_rows()),
        objected=objected,
        late=late,
        kept=new.filter("kept").height,
        batches=touched,
    )
