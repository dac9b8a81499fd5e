"""Canary customers in a transfer package: subject ids like real ones, merged in subject-id
order, and a signed list for the buyer's steward so that ``receive`` leaves them out.

The package itself does not say which records are canaries: the manifest holds their number
and a salted SHA-256 commitment to their subject ids; the list travels separately as a C2SP
signed note (``<package>.canaries``), signed with the manifest's key and bound to the
manifest by its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealvault.audit.note import Signer, Verifier, open_note, sign
from dealvault.errors import IntegrityError, Invalid
from dealvault.transfer.batches import PreparedBatch, prepare_batch
from dealvault.transfer.manifest import SUBJECT, PackageSchema
from dealvault.vault.models import CustomerRecord, Dataset

#: Canary customers per package.
PACKAGE_CANARIES: Final = 3
NOTE_FORMAT: Final = "dealvault/transfer-canaries/v1"
NOTE_SUFFIX: Final = ".canaries"
COMMITMENT_RULE: Final = "SHA-256(salt || sorted subject ids joined by LF)"


def draw_subjects(session: Session, *, dataset: Dataset, count: int) -> list[str]:
    """Subject ids shaped like the import writer's (8 hex digits of a record id, 16 random hex
    digits), on record ids no customer in the package has: those of excluded customers where
    there are any, else ids just past the last one. Never equal to a stored subject id."""
    if count <= 0:
        return []
    mine = CustomerRecord.dataset_id == dataset.id
    pool = list(
        session.scalars(
            select(CustomerRecord.id).where(mine, CustomerRecord.status != "active").limit(10_000)
        )
    )
    top = int(session.scalar(select(func.max(CustomerRecord.id)).where(mine)) or 0)
    picks: list[int] = []
    while len(picks) < count:
        if pool:
            picks.append(pool.pop(secrets.randbelow(len(pool))))
        else:
            picks.append(top + 1 + secrets.randbelow(64) * 16 + len(picks))
    out: list[str] = []
    for rid in picks:
        while True:
            subject = f"{rid & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"
            taken = session.scalar(
                select(CustomerRecord.id).where(CustomerRecord.subject_id == subject)
            )
            if taken is None and subject not in out:
                out.append(subject)
                break
    return sorted(out)


def canary_records(
    canaries: pl.DataFrame, *, subjects: Sequence[str], schema: PackageSchema
) -> pl.DataFrame:
    """The canaries (``canaries.canary_frame`` columns) as package records: the schema's
    columns as text (a column the canaries lack is null), the drawn subject ids, sorted."""
    if canaries.height != len(subjects):
        raise Invalid("one subject id per canary is needed")
    frame = canaries.with_columns(pl.Series(SUBJECT, list(subjects), dtype=pl.String))
    return frame.select(
        [
            pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
            for c in schema.names
        ]
    ).sort(SUBJECT)


def merge_canaries(
    batches: Iterator[PreparedBatch], canaries: pl.DataFrame, *, schema: PackageSchema
) -> Iterator[PreparedBatch]:
    """The batches with the canary records merged in subject-id order; only the batches
    that receive a canary are re-prepared (the others pass through untouched)."""
    pending = canaries.sort(SUBJECT)
    for batch in batches:
        if pending.height and batch.frame.height:
            last = batch.frame.get_column(SUBJECT)[-1]
            due = pending.filter(pl.col(SUBJECT) < last)
            if due.height:
                pending = pending.slice(due.height)
                merged = pl.concat([batch.frame, due], how="vertical").sort(SUBJECT)
                yield prepare_batch(merged, schema)
                continue
        yield batch
    if pending.height:
        yield prepare_batch(pending, schema)


def commitment(salt: bytes, subjects: Sequence[str]) -> str:
    digest = hashlib.sha256(salt + "\n".join(sorted(subjects)).encode("ascii")).hexdigest()
    return f"sha256:{digest}"


def manifest_entry(*, salt: bytes, subjects: Sequence[str]) -> dict[str, Any]:
    """What the manifest says of the canaries: how many, and a commitment to which."""
    return {
        "count": len(subjects),
        "commitment": commitment(salt, subjects) if subjects else None,
        "commitment_rule": COMMITMENT_RULE,
        "list": f"a signed note ({NOTE_FORMAT}) the seller hands over apart from the package",
    }


def note_text(*, manifest_sha256: str, salt: bytes, subjects: Sequence[str]) -> str:
    lines = [NOTE_FORMAT, f"manifest sha256:{manifest_sha256}", f"salt {salt.hex()}"]
    lines += [f"subject {s}" for s in sorted(subjects)]
    return "\n".join(lines) + "\n"


def sign_note(
    *, manifest_sha256: str, salt: bytes, subjects: Sequence[str], signer: Signer
) -> bytes:
    return sign(note_text(manifest_sha256=manifest_sha256, salt=salt, subjects=subjects), [signer])


def read_note(
    note: bytes, *, verifier: Verifier, manifest: Mapping[str, Any], manifest_sha256: str
) -> list[str]:
    """The canary subject ids of a package, after checking the note's signature (the
    manifest's signer), that it names this manifest and matches its commitment."""
    try:
        text, _ = open_note(note, [verifier])
    except (IntegrityError, Invalid):
        raise IntegrityError(
            "the canary list is not signed by the package's signer (or is damaged)"
        ) from None
    lines = text.rstrip("\n").split("\n")
    if len(lines) < 3 or lines[0] != NOTE_FORMAT or not lines[2].startswith("salt "):
        raise IntegrityError(f"the canary list is not a {NOTE_FORMAT} note")
    if lines[1] != f"manifest sha256:{manifest_sha256}":
        raise IntegrityError("the canary list belongs to another package (manifest differs)")
    try:
        salt = bytes.fromhex(lines[2].removeprefix("salt "))
    except ValueError:
        raise IntegrityError("the canary list's salt is not hexadecimal") from None
    if not all(line.startswith("subject ") for line in lines[3:]):
        raise IntegrityError("the canary list has a line that is not a subject id")
    subjects = [line.removeprefix("subject ") for line in lines[3:]]
    entry = manifest.get("canaries") or {}
    if entry.get("count") != len(subjects) or (
        subjects and entry.get("commitment") != commitment(salt, subjects)
    ):
        raise IntegrityError("the canary list does not match the manifest's commitment")
    return subjects


def note_path(package: Path) -> Path:
    """Where ``build`` puts the canary list: beside the package, ``<package>.canaries``."""
    return package.with_name(package.name + NOTE_SUFFIX)
