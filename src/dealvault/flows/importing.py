"""Use case: import one table of a customer base into the vault, whole or not at all."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import polars as pl
from pydantic import BaseModel

from dealvault.access import service as access
from dealvault.access.models import Deal, Person
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn, SubjectPacker
from dealvault.classify.columns import ColumnClass, classify_frame
from dealvault.classify.minors import minor_mask
from dealvault.compliance.crossborder_file import shipped as crossborder_rules
from dealvault.crypto.keyring import DATA, KeyRing
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.errors import Conflict, InputError
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.mapping_plan import (
    MappingPlan,
    PendingColumn,
    plan_import_mapping,
)
from dealvault.flows.reading_options import Reading, refuse_unreadable
from dealvault.ingest.fields import TableRole
from dealvault.ingest.mapping import ColumnMapping
from dealvault.ingest.normalize import NormalisedBatch, normalise_batch
from dealvault.ingest.options import ColumnOptions
from dealvault.ingest.phones import SECOND, second_phone_column
from dealvault.ingest.prefetch import prefetch
from dealvault.ingest.readers import Source, SourceBatch, SourceSpec, open_source
from dealvault.ingest.rowcount import expected_rows
from dealvault.vault import flags
from dealvault.vault import service as vault
from dealvault.vault.colstats import ColumnStats, stats_for
from dealvault.vault.models import ImportRun
from dealvault.vault.rejects import RejectWriter
from dealvault.vault.writer import ChildWriter, CustomerWriter

#: progress(rows_read, rows expected or None): counts rows, never bytes read ahead
Progress = Callable[[int, int | None], None]


class ImportSummary(BaseModel):
    import_id: int
    dataset: str
    table: str
    role: str
    source: str
    fmt: str
    encoding: str | None
    content_hash: str
    mapping: dict[str, str | None]
    rows_read: int
    rows_imported: int
    rows_merged: int
    rows_rejected: int
    reject_file: str | None
    #: what was done to the source's headers (empty, repeated or internal names renamed)
    notes: list[str] = []


@dataclass(frozen=True)
class ImportRequest:
    actor: Principal
    deal: str
    dataset: str
    spec: SourceSpec
    table: str | None = None
    role: TableRole | None = None
    mapping_file: Path | None = None
    overrides: Mapping[str, str | None] | None = None
    #: reading options stated on the command line (``--phone-region``, ``--date-order``)
    options: Mapping[str, ColumnOptions] | None = None
    strict: bool = False
    allow_reimport: bool = False


def classify_sample(sample: pl.DataFrame | None) -> dict[str, ColumnClass]:
    """The classifier's verdict per source column, from the first batch."""
    if sample is None or sample.height == 0:
        return {}
    return classify_frame(frame=sample)


def plan_mapping(
    *,
    request: ImportRequest,
    columns: list[str],
    found: Mapping[str, ColumnClass] | None = None,
    sample: pl.DataFrame | None = None,
) -> ColumnMapping:
    """The mapping (``mapping_plan.plan_import_mapping`` without the explanations)."""
    return plan_import_mapping(request=request, columns=columns, found=found, sample=sample).mapping


def _rejects_frame(raw: pl.DataFrame, rejects: pl.DataFrame) -> pl.DataFrame:
    """Reasons joined with the rejected rows' original values (stored encrypted only)."""
    values = raw.select(
        pl.col("__row").alias("row"),
        pl.struct([c for c in raw.columns if c != "__row"]).struct.json_encode().alias("values"),
    )
    return rejects.select(
        pl.col("row").cast(pl.Int64),
        pl.col("column").cast(pl.String),
        pl.col("reason").cast(pl.String),
    ).join(values, on="row", how="left")


def _flagged(clean: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """A normalised customers batch with each customer's flags (vault/flags.py: under 14 by
    ID number or birth date, PIPL art. 28, 31; EU/EEA subject; abroad), and its minors."""
    ids = clean.get_column("id_number") if "id_number" in clean.columns else None
    births = clean.get_column("birth_date") if "birth_date" in clean.columns else None
    mask = None
    if ids is not None or births is not None:
        mask = minor_mask(ids=ids, birth_dates=births, as_of=utcnow().date())
    gdpr = crossborder_rules().gdpr
    out = flags.with_flags(clean, minors=mask, eea=gdpr.eea, country_columns=gdpr.country_columns)
    return out, 0 if mask is None else int(mask.sum())


class MappingPreview(NamedTuple):
    """``import --dry-run``: the mapping, the classifier's findings, the header notes, how
    each column got its field, the columns waiting for a decision, and how columns are read
    (phone region, date order: options, evidence, a refusal)."""

    mapping: ColumnMapping
    found: dict[str, ColumnClass]
    notes: list[str]
    mapped_by: dict[str, str]
    pending: list[PendingColumn]
    readings: dict[str, Reading]


def _source_label(spec: SourceSpec) -> str:
    """The source as audit events name it before it is opened (a file name, or "sql query")."""
    return spec.path.name if spec.path is not None else "sql query"


def _authorize_import(
    stores: AppStores, uow: UnitOfWork, request: ImportRequest
) -> tuple[Person, Deal, EventIn]:
    """The import decision, taken before any source is opened or queried."""
    deal = access.get_deal(uow.records, code=request.deal)
    person, event = authorize(
        stores,
        uow.records,
        actor=request.actor,
        action="dataset.import",
        deal=deal,
        event=EventIn(
            action="import",
            objects={
                "dataset": request.dataset,
                "source": _source_label(request.spec),
                "stage": deal.stage,
            },
        ),
    )
    return person, deal, event


def preview_mapping(stores: AppStores, *, request: ImportRequest) -> MappingPreview:
    """What an import would do with the columns (``import --dry-run``); nothing is written
    but the decision (taken before the source is opened)."""
    with stores.unit_of_work() as uow:
        _, _, event = _authorize_import(stores, uow, request)
        audit(stores, uow, replace(event, action="import.preview"))
    with open_source(spec=request.spec) as source:
        head_batch = next(source.batches(), None)
        sample = None if head_batch is None else pl.from_arrow(head_batch.data)
        assert sample is None or isinstance(sample, pl.DataFrame)
        found = classify_sample(sample)
        plan: MappingPlan = plan_import_mapping(
            request=request, columns=list(source.columns), found=found, sample=sample
        )
        notes = list(source.header_notes)
        return MappingPreview(
            plan.mapping, found, notes, plan.mapped_by, plan.pending, plan.readings
        )


def _normalised(
    source: Source,
    batches: Iterable[SourceBatch],
    mapping: ColumnMapping,
    stats: dict[str, ColumnStats],
) -> Iterator[tuple[SourceBatch, pl.DataFrame, NormalisedBatch]]:
    """Parse, count and normalise batch after batch (runs on the read-ahead thread)."""
    for batch in batches:
        raw = pl.from_arrow(batch.data)
        assert isinstance(raw, pl.DataFrame)
        stats_for(raw, stats)
        raw = raw.with_row_index("__row", offset=batch.first_row).with_columns(
            pl.col("__row").cast(pl.Int64)
        )
        nb = normalise_batch(
            frame=raw.drop("__row"), mapping=mapping, file=source.name, first_row=batch.first_row
        )
        second = second_phone_column(columns=mapping.columns)
        if second is not None:  # second numbers split from phone cells (ingest.phones)
            got = nb.clean.get_column(SECOND) if SECOND in nb.clean.columns else pl.Series([])
            padded = got.cast(pl.String).extend_constant(None, raw.height - len(got))
            stats.setdefault(second, ColumnStats()).add(padded)
        yield batch, raw, nb


def import_source(
    stores: AppStores,
    keyring: KeyRing,
    *,
    request: ImportRequest,
    rejects_dir: Path,
    progress: Progress | None = None,
    then: Callable[[ImportSummary], EventIn] | None = None,
) -> ImportSummary:
    """Read, normalise, merge, encrypt and store; commit everything or nothing.

    ``then`` makes one more audit event from the summary, committed in the same transaction
    (``package receive`` records the receipt with the import, or neither).
    """
    made: list[RejectWriter] = []
    try:
        return _run_import(
            stores,
            keyring,
            request=request,
            rejects_dir=rejects_dir,
            progress=progress,
            made=made,
            then=then,
        )
    except BaseException:
        for writer in made:  # the import rolled back: its reject file goes too
            writer.abort()
        raise


def _run_import(
    stores: AppStores,
    keyring: KeyRing,
    *,
    request: ImportRequest,
    rejects_dir: Path,
    progress: Progress | None,
    made: list[RejectWriter],
    then: Callable[[ImportSummary], EventIn] | None = None,
) -> ImportSummary:
    with stores.unit_of_work() as uow:
        actor, deal, allowed = _authorize_import(stores, uow, request)
        with open_source(spec=request.spec) as source:
            return _import_open(
                stores,
                keyring,
                uow=uow,
                source=source,
                actor=actor,
                deal=deal,
                allowed=allowed,
                request=request,
                rejects_dir=rejects_dir,
                progress=progress,
                made=made,
                then=then,
            )


def _import_open(
    stores: AppStores,
    keyring: KeyRing,
    *,
    uow: UnitOfWork,
    source: Source,
    actor: Person,
    deal: Deal,
    allowed: EventIn,
    request: ImportRequest,
    rejects_dir: Path,
    progress: Progress | None,
    made: list[RejectWriter],
    then: Callable[[ImportSummary], EventIn] | None,
) -> ImportSummary:
    s = uow.records
    keyring.verify_kek(uow.keys)
    expected = expected_rows(request.spec) if progress is not None else None
    batches = source.batches()
    head_batch = next(batches, None)
    sample = None if head_batch is None else pl.from_arrow(head_batch.data)
    assert sample is None or isinstance(sample, pl.DataFrame)
    found = classify_sample(sample)
    plan = plan_import_mapping(
        request=request, columns=list(source.columns), found=found, sample=sample
    )
    refuse_unreadable(readings=plan.readings, file=source.name)  # before anything is written
    mapping = plan.mapping
    role = mapping.table_role
    dataset = vault.get_or_create_dataset(uow, keyring, deal=deal, name=request.dataset)
    table_name = request.table or role.value
    table = vault.get_or_create_table(s, dataset=dataset, name=table_name, role=role)
    previous = vault.find_previous_import(s, dataset=dataset, content_hash=source.content_hash)
    if previous is not None and not request.allow_reimport:
        raise Conflict(
            f"{source.name} was already imported into this dataset (import #{previous.id} "
            f"on {previous.started_at:%Y-%m-%d}); pass --allow-reimport to import it again",
            code="reimport",
        )
    vault.record_columns(
        s,
        table=table,
        mapping=mapping.columns,
        found={
            col: vault.ColumnInfo(c.pii_type, c.category.value, c.sensitive, c.confidence)
            for col, c in found.items()
        },
    )
    run = ImportRun(
        dataset_id=dataset.id,
        table_id=table.id,
        source_name=source.name,
        fmt=source.fmt,
        encoding=source.encoding,
        content_hash=source.content_hash,
        actor_id=actor.id,
    )
    s.add(run)
    s.flush()
    writer: CustomerWriter | ChildWriter
    if role is TableRole.CUSTOMERS:
        writer = CustomerWriter(
            uow=uow,
            keyring=keyring,
            dataset=dataset,
            import_id=run.id,
            # unmapped columns are stored under the category the classifier found
            category_overrides={
                col: c.category
                for col, c in found.items()
                if mapping.columns.get(col) is None and c.pii_type is not None
            },
        )
    else:
        writer = ChildWriter(
            uow=uow,
            keyring=keyring,
            dataset=dataset,
            table_id=table.id,
            import_id=run.id,
            category=vault.ROLE_CATEGORY[role],
        )
    data_key = keyring.dataset_key(
        uow.keys, dataset_id=dataset.id, purpose=DATA, version=dataset.data_key_version
    )
    rejects = RejectWriter(
        path=rejects_dir / f"import-{dataset.id}-{run.id}.dvrej",
        key=data_key,
        key_version=dataset.data_key_version,
        dataset_id=dataset.id,
        import_id=run.id,
    )
    made.append(rejects)
    touched = SubjectPacker()
    colstats: dict[str, ColumnStats] = {}
    for _batch, raw, nb in prefetch(
        _normalised(
            source,
            itertools.chain([head_batch] if head_batch else [], batches),
            mapping,
            colstats,
        ),
        depth=1,
    ):
        bad = nb.rejects
        clean = nb.clean
        if role is TableRole.CUSTOMERS:
            clean, minors = _flagged(clean)
            run.minors += minors
        stats = writer.write(clean)
        touched.add(stats.subjects)
        if stats.rejected_rows:
            bad = pl.concat(
                [
                    bad.select(pl.col("row").cast(pl.Int64), "column", "reason"),
                    pl.DataFrame(
                        stats.rejected_rows,
                        schema={"row": pl.Int64, "column": pl.String, "reason": pl.String},
                        orient="row",
                    ),
                ]
            )
        if bad.height:
            if request.strict:
                first = bad.row(0, named=True)
                raise InputError(
                    f"{first['reason']} (strict import: nothing was written; "
                    f"{bad.get_column('row').n_unique()} rows in this batch are bad)",
                    file=source.name,
                    row=int(first["row"]),
                    column=None if first["column"] is None else str(first["column"]),
                )
            rejects.write(_rejects_frame(raw, bad))
        run.rows_read += raw.height
        run.rows_imported += stats.inserted
        run.rows_merged += stats.merged
        run.rows_rejected += bad.get_column("row").n_unique() if bad.height else 0
        if progress is not None:
            progress(run.rows_read, expected)
    writer.finish()
    vault.record_second_phone(s, table=table, mapping=mapping.columns, stats=colstats)
    vault.update_column_stats(s, table=table, stats=colstats)
    reject_path = rejects.finish()
    run.reject_file = str(reject_path) if reject_path else None
    run.finished_at = utcnow()
    s.flush()
    audit(
        stores,
        uow,
        replace(
            allowed,
            objects={
                "dataset": dataset.name,
                "table": table.name,
                "role": role.value,
                "import": run.id,
                "stage": deal.stage,
                "source": source.name,
                "content_hash": source.content_hash,
            },
            counts={
                "minors": run.minors,
                "read": run.rows_read,
                "imported": run.rows_imported,
                "merged": run.rows_merged,
                "rejected": run.rows_rejected,
            },
            subjects=touched,
        ),
    )
    summary = ImportSummary(
        import_id=run.id,
        dataset=dataset.name,
        table=table.name,
        role=role.value,
        source=source.name,
        fmt=source.fmt,
        encoding=source.encoding,
        content_hash=source.content_hash,
        mapping=dict(mapping.columns),
        rows_read=run.rows_read,
        rows_imported=run.rows_imported,
        rows_merged=run.rows_merged,
        rows_rejected=run.rows_rejected,
        reject_file=run.reject_file,
        notes=list(source.header_notes),
    )
    if then is not None:
        audit(stores, uow, then(summary))
    return summary
