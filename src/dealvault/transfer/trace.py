"""Trace a leaked CSV, XLSX or Parquet file to its recipient by canaries and tokens."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel, Field
from sqlalchemy import select

from dealvault.access.models import Deal, DealParty, Organization
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.deidentify.tokens import resolve_tokens, token_key
from dealvault.deidentify.writers import ABOUT_SHEET, CSV_MARKER, PARQUET_KEY
from dealvault.errors import InputError, KeyUnavailable
from dealvault.ingest.csv_detect import SAMPLE_BYTES, detect_delimiter, detect_encoding
from dealvault.ingest.readers import sniff
from dealvault.sheets import restore
from dealvault.transfer.canaries import STRONG_RULES, CanaryRecord, load_canaries
from dealvault.transfer.canary_seal import CanaryKeys
from dealvault.transfer.canary_search import cell_count, find_canaries, tokens_in
from dealvault.vault.models import CustomerRecord, Dataset

Confidence = Literal["high", "medium", "low", "none"]
UNKNOWN: Final = "unknown"
_IN_CHUNK: Final = 5_000


class RecipientEvidence(BaseModel):
    """What points at one recipient: counts only, never a value."""

    recipient: str
    deals: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    canaries_planted: int = 0
    canaries_found: int = 0
    by_email: int = 0
    by_phone: int = 0
    by_id_number: int = 0
    by_name_birth: int = 0
    by_token: int = 0
    by_masked: int = 0
    tokens_resolved: int = 0
    customers_exposed: int = 0
    strong_items: int = Field(
        default=0,
        description="Canaries found by a strong rule plus real customers found by token.",
    )


class TraceResult(BaseModel):
    """The verdict on a file, with the evidence per recipient."""

    file: str
    format: str
    sha256: str
    rows: int
    columns: int
    cells: int
    tokens_seen: int
    declared_recipient: str | None = Field(
        default=None, description="The recipient the file's own metadata names (not evidence)."
    )
    verdict: str
    confidence: Confidence
    evidence: list[RecipientEvidence]
    notes: list[str] = Field(default_factory=list)
    subject_ids: list[str] = Field(default_factory=list, exclude=True, repr=False)
    """Subject ids of the real customers the file exposes: for the audit event, not shown."""


@dataclass(frozen=True)
class FileData:
    """A file's data as frames (one per sheet), whatever its columns, plus what it claims."""

    frames: list[pl.DataFrame]
    fmt: str
    declared: str | None

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.frames)

    @property
    def columns(self) -> int:
        return max((f.width for f in self.frames), default=0)


def _declared(meta: object) -> str | None:
    if isinstance(meta, dict) and isinstance(meta.get("recipient"), str):
        return str(meta["recipient"])
    return None


def _read_csv(path: Path, raw: bytes) -> FileData:
    enc = detect_encoding(
        sample=raw[:SAMPLE_BYTES], complete=len(raw) <= SAMPLE_BYTES, file=path.name
    )
    text = raw[enc.bom :].decode(enc.codec, errors="replace")
    declared = None
    if text.startswith(CSV_MARKER):
        first, _, text = text.partition("\n")
        try:
            declared = _declared(json.loads(first[len(CSV_MARKER) :]))
        except ValueError:
            declared = None
    if not text.strip():
        return FileData([], "csv", declared)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            has_header=False,  # a header line is only one more row of cells
            infer_schema=False,
            separator=detect_delimiter(text=text[:65_536]),
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError:
        raise InputError("cannot be read as CSV text", file=path.name) from None
    return FileData([restore(frame)], "csv", declared)


def _read_xlsx(path: Path) -> FileData:
    try:
        sheets = pl.read_excel(
            path, sheet_id=0, has_header=False, infer_schema_length=0, raise_if_empty=False
        )
    except Exception:  # fastexcel raises its own error types
        raise InputError("cannot be read as an XLSX workbook", file=path.name) from None
    declared = None
    data = []
    for name, sheet in sheets.items():
        frame = restore(sheet)
        about = frame.width == 2 and frame.height > 0 and frame.row(0) == ("key", "value")
        if name == ABOUT_SHEET and about:
            meta = {str(k): v for k, v in frame.slice(1).iter_rows()}
            declared = _declared(meta)
            continue
        data.append(frame)
    return FileData(data, "xlsx", declared)


def _read_parquet(path: Path) -> FileData:
    try:
        meta = pq.read_schema(path).metadata or {}
        frame = pl.read_parquet(path)
    except Exception:  # pyarrow and polars raise several error types for broken files
        raise InputError("cannot be read as Parquet", file=path.name) from None
    declared = None
    if PARQUET_KEY in meta:
        try:
            declared = _declared(json.loads(meta[PARQUET_KEY]))
        except ValueError:
            declared = None
    return FileData([frame], "parquet", declared)


def read_file(path: Path) -> tuple[FileData, str]:
    """The data of a CSV (UTF-8, GBK or GB18030; with or without our metadata line), XLSX or
    Parquet file, recognised by content (a renamed file still reads), and its SHA-256. The
    quotes our CSV and XLSX writers put before formula-like text are taken off again."""
    if not path.is_file():
        raise InputError("file not found", file=path.name)
    raw = path.read_bytes()
    if not raw:
        raise InputError("file is empty", file=path.name)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    fmt = sniff(head=raw[:64], tail=raw[-4:])
    if fmt == "xlsx":
        return _read_xlsx(path), digest
    if fmt == "parquet":
        return _read_parquet(path), digest
    if fmt == "jsonl":
        try:
            frame = pl.read_ndjson(io.BytesIO(raw), infer_schema_length=None)
        except pl.exceptions.PolarsError:
            raise InputError("cannot be read as JSON Lines", file=path.name) from None
        return FileData([frame], "jsonl", None), digest
    return _read_csv(path, raw), digest


@dataclass(frozen=True)
class _TokenHits:
    """Tokens of one file that one recipient's key for one dataset opens."""

    org_id: int
    deal: str
    dataset: str
    dataset_id: int
    record_ids: list[int]  # >= 0: real customers; < 0: canaries (-canary id)


def _parties(uow: UnitOfWork, deals: Sequence[Deal]) -> list[Organization]:
    """Every organisation that may have received data in these deals: their parties."""
    return list(
        uow.records.scalars(
            select(Organization)
            .join(DealParty, DealParty.organization_id == Organization.id)
            .where(DealParty.deal_id.in_([d.id for d in deals]))
            .distinct()
            .order_by(Organization.id)
        )
    )


def _resolve_all(
    uow: UnitOfWork,
    keyring: KeyRing,
    *,
    deals: Sequence[Deal],
    orgs: Sequence[Organization],
    tokens: pl.Series,
    notes: list[str],
) -> list[_TokenHits]:
    """Open the file's tokens with each recipient's key of each dataset of the deals."""
    if tokens.len() == 0:
        return []
    out: list[_TokenHits] = []
    for deal in deals:
        datasets = uow.records.scalars(
            select(Dataset).where(Dataset.deal_id == deal.id).order_by(Dataset.id)
        )
        for ds in datasets:
            try:
                index_key = keyring.dataset_key(
                    uow.keys, dataset_id=ds.id, purpose=INDEX, version=1
                )
            except KeyUnavailable:
                notes.append(
                    f"dataset {ds.name!r} of deal {deal.code!r} has no index key (destroyed):"
                    " its tokens cannot be resolved any more, only canaries can be found"
                )
                continue
            for org in orgs:
                ids = resolve_tokens(
                    token_key(index_key, recipient_id=org.id), dataset_id=ds.id, tokens=tokens
                )
                found = [i for i in ids if i is not None]
                if found:
                    out.append(_TokenHits(org.id, deal.code, ds.name, ds.id, found))
    return out


def _subjects(uow: UnitOfWork, hits: Sequence[_TokenHits]) -> list[str]:
    """Subject ids of the real customers whose tokens the file holds (for the audit event)."""
    out: set[str] = set()
    for hit in hits:
        real = sorted({r for r in hit.record_ids if r >= 0})
        for i in range(0, len(real), _IN_CHUNK):
            out.update(
                uow.records.scalars(
                    select(CustomerRecord.subject_id).where(
                        CustomerRecord.dataset_id == hit.dataset_id,
                        CustomerRecord.id.in_(real[i : i + _IN_CHUNK]),
                    )
                )
            )
    return sorted(out)


def _evidence(
    *,
    orgs: Sequence[Organization],
    deals: Sequence[Deal],
    canaries: Sequence[CanaryRecord],
    matches: pl.DataFrame,
    hits: Sequence[_TokenHits],
) -> list[RecipientEvidence]:
    """Per recipient with any evidence: counts by rule, tokens, customers exposed."""
    by_id = {c.id: c for c in canaries}
    codes = {d.id: d.code for d in deals}
    rules: dict[int, dict[int, set[str]]] = {}  # org -> canary -> rules
    places: dict[int, set[tuple[str, str]]] = {}  # org -> (deal, dataset)
    for canary_id, rule in matches.iter_rows():
        c = by_id[canary_id]
        rules.setdefault(c.recipient_id, {}).setdefault(c.id, set()).add(rule)
    tokens: dict[int, int] = {}
    exposed: dict[int, set[tuple[int, int]]] = {}
    for hit in hits:
        tokens[hit.org_id] = tokens.get(hit.org_id, 0) + len(hit.record_ids)
        places.setdefault(hit.org_id, set()).add((hit.deal, hit.dataset))
        for r in hit.record_ids:
            if r >= 0:
                exposed.setdefault(hit.org_id, set()).add((hit.dataset_id, r))
            elif -r in by_id and by_id[-r].recipient_id == hit.org_id:
                rules.setdefault(hit.org_id, {}).setdefault(-r, set()).add("token")
    out: list[RecipientEvidence] = []
    for org in orgs:
        found = rules.get(org.id, {})
        if not found and org.id not in tokens:
            continue
        mine = [c for c in canaries if c.recipient_id == org.id]
        deal_codes = {codes[c.deal_id] for c in mine if c.id in found} | {
            d for d, _ in places.get(org.id, set())
        }
        count = {r: sum(r in rs for rs in found.values()) for r in STRONG_RULES | {"masked"}}
        strong_canaries = sum(bool(rs & STRONG_RULES) for rs in found.values())
        real = len(exposed.get(org.id, set()))
        out.append(
            RecipientEvidence(
                recipient=org.name,
                deals=sorted(deal_codes),
                datasets=sorted({ds for _, ds in places.get(org.id, set())}),
                canaries_planted=len(mine),
                canaries_found=len(found),
                by_email=count["email"],
                by_phone=count["phone"],
                by_id_number=count["id_number"],
                by_name_birth=count["name_birth"],
                by_token=count["token"],
                by_masked=count["masked"],
                tokens_resolved=tokens.get(org.id, 0),
                customers_exposed=real,
                strong_items=strong_canaries + real,
            )
        )
    out.sort(key=lambda e: (-e.strong_items, -e.canaries_found, e.recipient))
    return out


def verdict(evidence: Sequence[RecipientEvidence]) -> tuple[str, Confidence, list[str]]:
    """The recipient the evidence names, how sure, and why not surer.

    high: two independent strong items (canaries by e-mail, phone, ID number, name + birth
    date or token; real customers' tokens); medium: one strong item, or two canaries by their
    masked forms only; low: one masked canary only, or evidence for more than one recipient.
    """
    if not evidence:
        return UNKNOWN, "none", ["no canary and no token of any recipient was found"]
    top = evidence[0]
    masked_only = top.canaries_found - (top.strong_items - top.customers_exposed)
    confidence: Confidence
    if top.strong_items >= 2:
        confidence = "high"
    elif top.strong_items == 1 or masked_only >= 2:
        confidence = "medium"
    else:
        confidence = "low"
    notes: list[str] = []
    if len(evidence) > 1:
        others = ", ".join(e.recipient for e in evidence[1:])
        notes.append(f"evidence also points at {others}: the file may merge several copies")
        confidence = "low"
    return top.recipient, confidence, notes


def _known(declared: str | None, orgs: Sequence[Organization]) -> str | None:
    """The recipient a file names itself, shown only when it is an organisation we know (the
    field is the leaker's to edit and could hold anything)."""
    if declared is None:
        return None
    return declared if declared in {o.name for o in orgs} else "(not a known organisation)"


def trace_file(
    uow: UnitOfWork, keyring: KeyRing, *, path: Path, deals: Sequence[Deal]
) -> TraceResult:
    """Name the recipient of a leaked file from the canaries and tokens of ``deals``.

    Every cell is compared, so renamed, reordered or dropped columns and dropped rows do not
    matter as long as one canary or one token survives. Reads only; the flow audits.
    """
    fc, digest = read_file(path)
    keys = CanaryKeys.of(keyring, uow.keys, create=False)
    canaries = load_canaries(uow.records, keys=keys, deal_ids=[d.id for d in deals])
    matches = find_canaries(fc.frames, canaries)
    tokens = tokens_in(fc.frames)
    orgs = _parties(uow, deals) if deals else []
    known = {o.id for o in orgs}
    extra = {c.recipient_id for c in canaries} - known
    if extra:
        orgs += list(uow.records.scalars(select(Organization).where(Organization.id.in_(extra))))
    notes: list[str] = []
    hits = _resolve_all(uow, keyring, deals=deals, orgs=orgs, tokens=tokens, notes=notes)
    evidence = _evidence(orgs=orgs, deals=deals, canaries=canaries, matches=matches, hits=hits)
    name, confidence, why = verdict(evidence)
    stale = sum(not c.rebuilt for c in canaries)
    if stale:
        notes.append(f"{stale} canaries no longer rebuild: matched by name, phone, e-mail only")
    return TraceResult(
        file=path.name,
        format=fc.fmt,
        sha256=digest,
        rows=fc.rows,
        columns=fc.columns,
        cells=cell_count(fc.frames),
        tokens_seen=tokens.len(),
        declared_recipient=_known(fc.declared, orgs),
        verdict=name,
        confidence=confidence,
        evidence=evidence,
        notes=[*why, *notes],
        subject_ids=_subjects(uow, hits),
    )
