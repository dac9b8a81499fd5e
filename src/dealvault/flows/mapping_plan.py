"""Import mapping: headers first, then classifier findings strong on values; the rest asks.
Each mapped column also gets its reading options (``flows.reading_options``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

import polars as pl

from dealvault.classify.columns import ColumnClass
from dealvault.flows.reading_options import Reading, column_readings, found_reading, quoted
from dealvault.ingest.fields import FIELDS, Category
from dealvault.ingest.mapping import (
    ColumnMapping,
    MappingFile,
    apply_overrides,
    check_mapping,
    load_mapping_file,
    propose_mapping,
)
from dealvault.ingest.options import NO_OPTIONS, ColumnOptions
from dealvault.ingest.placeholders import VALIDATED_KINDS, placeholder_to_null
from dealvault.ingest.validators import PREPARED, RULES, TWO_STAGE, blank_to_null, two_stage

if TYPE_CHECKING:
    from dealvault.flows.importing import ImportRequest

#: A classifier finding this sure maps an unmapped column to its canonical field.
AUTO_MAP_CONFIDENCE: Final = 0.9
#: ... when the field's normaliser also accepts this share of the sampled values.
AUTO_MAP_ACCEPTED: Final = 0.9
THRESHOLD_RULE: Final = (
    "a column the headers do not name is mapped from its values when the classifier's "
    f"confidence is at least {AUTO_MAP_CONFIDENCE:.2f} (value evidence; a header word alone "
    f"gives at most 0.45) and the field accepts at least {AUTO_MAP_ACCEPTED:.0%} of the "
    "sampled values; otherwise it is kept encrypted under its category until you decide"
)
#: Findings below the threshold are listed for a decision when they are personal information.
ASKED: Final = frozenset({Category.IDENTITY, Category.CONTACT, Category.SENSITIVE})


@dataclass(frozen=True, slots=True)
class PendingColumn:
    """A column the classifier suggests a field for, not mapped: why, and how to decide."""

    column: str
    field: str
    pii_type: str
    confidence: float
    reason: str

    def how(self, *, deal: str, dataset: str) -> str:
        """The commands that settle it (shell-quoted column name)."""
        return (
            f"map it: add --map {quoted(f'{self.column}={self.field}')} to the import; or "
            f"record its type: dealvault columns override {quoted(self.column)} --deal {deal} "
            f"--dataset {dataset} --type {self.pii_type}"
        )


@dataclass(frozen=True, slots=True)
class MappingPlan:
    """The mapping (with its reading options), how each column got its field, the columns
    waiting for a decision, and per column with options what they rest on or why the import
    would refuse it."""

    mapping: ColumnMapping
    mapped_by: dict[str, str]  # column -> "header", "values", "mapping file" or "--map"
    pending: list[PendingColumn]
    readings: dict[str, Reading] = field(default_factory=dict)


def accepted_share(*, field: str, values: pl.Series, options: ColumnOptions = NO_OPTIONS) -> float:
    """Share of the non-blank sampled values that ``field``'s normaliser accepts (1.0 when
    none is blank-free), reading them with ``options``. Runs the import's own rules, so the
    answer is what import would do."""
    kind = FIELDS[field].kind
    text = values.cast(pl.String, strict=False)
    frame = pl.DataFrame({"v": text}).select(v=blank_to_null(pl.col("v")))
    if kind in VALIDATED_KINDS:
        frame = frame.select(v=placeholder_to_null(pl.col("v")))
    frame = frame.drop_nulls()
    if frame.height == 0:
        return 1.0
    col = pl.col("v")
    if kind in PREPARED:
        prep, check = PREPARED[kind]
        parts = frame.select(**prep(col))
        reasons = parts.select(check(pl.col)[1]).to_series()
    elif kind in TWO_STAGE:
        fast, slow = two_stage(kind=kind, options=options)
        value, reason, flag = fast(col)
        out = frame.select(v=value, r=reason, f=flag)
        slow_reasons = slow(out.filter(pl.col("f")).get_column("v"))[1]
        bad_fast = int(out.filter(~pl.col("f")).get_column("r").is_not_null().sum())
        return 1.0 - (bad_fast + int(slow_reasons.is_not_null().sum())) / frame.height
    else:
        reasons = frame.select(RULES.get(kind, RULES["text"])(col)[1]).to_series()
    return 1.0 - float(reasons.is_not_null().mean() or 0.0)  # type: ignore[arg-type]


def _from_values(
    mapping: ColumnMapping, found: Mapping[str, ColumnClass], sample: pl.DataFrame | None
) -> tuple[dict[str, str | None], list[PendingColumn]]:
    taken = {f: c for c, f in mapping.columns.items() if f}
    extra: dict[str, str | None] = {}
    pending: list[PendingColumn] = []
    for col, cls in found.items():
        if mapping.columns.get(col) is not None or cls.field is None or cls.pii_type is None:
            continue

        def ask(reason: str, col: str = col, cls: ColumnClass = cls) -> None:
            assert cls.field is not None and cls.pii_type is not None
            pending.append(PendingColumn(col, cls.field, cls.pii_type, cls.confidence, reason))

        if cls.field in taken:
            ask(f"field {cls.field} is already mapped from column {taken[cls.field]!r}")
            continue
        if cls.confidence < AUTO_MAP_CONFIDENCE:
            if cls.category not in ASKED:
                continue
            ask(
                f"confidence {cls.confidence:.2f} is below {AUTO_MAP_CONFIDENCE:.2f}"
                + (": the header alone names the type" if cls.evidence.get("header_only") else "")
            )
            continue
        reading = found_reading(column=col, field=cls.field, cls=cls)
        if reading is not None and reading.refused is not None:
            ask(f"{reading.evidence}: {reading.refused}")
            continue
        if sample is not None and col in sample.columns:
            opts = NO_OPTIONS if reading is None else reading.options
            ok = accepted_share(field=cls.field, values=sample.get_column(col), options=opts)
            if ok < AUTO_MAP_ACCEPTED:
                ask(
                    f"the {cls.field} field would reject {1 - ok:.0%} of the sampled values "
                    "(its normaliser does not read this layout)"
                )
                continue
        extra[col] = cls.field
        taken[cls.field] = col
    return extra, pending


def plan_import_mapping(
    *,
    request: ImportRequest,
    columns: list[str],
    found: Mapping[str, ColumnClass] | None = None,
    sample: pl.DataFrame | None = None,
) -> MappingPlan:
    """Headers first; then confident classifier findings whose values the field accepts, for
    the columns the headers did not explain; then the mapping file and the flags on top.
    Last, each mapped column's reading options: the user's, over the classifier's."""
    found = found or {}
    mapping = propose_mapping(columns=columns, table_role=request.role)
    mapped_by = {c: "header" for c, f in mapping.columns.items() if f}
    extra, pending = _from_values(mapping, found, sample)
    if extra:
        mapping = apply_overrides(mapping=mapping, overrides=extra)
        mapped_by.update(dict.fromkeys(extra, "values"))
    file = (
        load_mapping_file(path=request.mapping_file)
        if request.mapping_file
        else MappingFile(columns={}, options={})
    )
    stated: dict[str, tuple[ColumnOptions, str]] = {}
    for source, overrides, options in (
        ("mapping file", file.columns, file.options),
        ("--map", request.overrides or {}, request.options or {}),
    ):
        if overrides or options:
            mapping = apply_overrides(mapping=mapping, overrides=overrides, options=options)
            mapped_by.update({c: source for c, f in overrides.items() if f})
            for c, f in overrides.items():
                if not f:
                    mapped_by.pop(c, None)
            where = "mapping file" if source == "mapping file" else "command line"
            for c in options:
                before = stated[c][1] + ", " if c in stated else ""
                stated[c] = (mapping.options_of(c), before + where)
    stated = {c: s for c, s in stated.items() if c in mapping.options}
    readings = column_readings(columns=mapping.columns, stated=stated, found=found)
    mapping = replace(mapping, options={c: r.options for c, r in readings.items() if r.options})
    check_mapping(mapping=mapping)
    decided = {c for c, f in mapping.columns.items() if f} | set(request.overrides or {})
    pending = [p for p in pending if p.column not in decided]
    return MappingPlan(mapping, mapped_by, pending, readings)
