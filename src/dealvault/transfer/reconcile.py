"""The buyer's side: check a package's signature, decrypt it, recompute and reconcile.

Every check runs and every problem is listed with a precise message (a truncated file, a
re-signed manifest, records out of order at row N, a Merkle root mismatch, missing, extra and
altered records by subject id). Subject ids are random; no personal value is ever reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pyrage

from dealvault.errors import IntegrityError, Invalid
from dealvault.transfer.manifest import (
    HASH_COLUMN,
    INDEX_FILE,
    MANIFEST_FILE,
    RECORDS_FILE,
    SIGNATURE_FILE,
    SUBJECT,
    MerkleAccumulator,
    PackageSchema,
    add_counts,
    category_counts,
    check_signature,
    decode_manifest,
    leaf_hashes,
    recipient_fingerprint,
)
from dealvault.transfer.package_files import (
    PackageFiles,
    Plain,
    decrypt_file,
    open_parquet,
)
from dealvault.transfer.reconcile_report import (
    CategoryRow,
    FileCheck,
    Reconciliation,
    RecordsCheck,
    SignatureOut,
)
from dealvault.transfer.spool import SealedSpool

#: Subject ids listed per kind of difference in a report (the counts are always complete).
LIST_LIMIT = 1000
_READ_ROWS = 65_536


def verify_package(
    path: Path,
    *,
    identities: Sequence[pyrage.x25519.Identity],
    verifier_key: str | None = None,
    spool_dir: Path | None = None,
) -> tuple[Reconciliation, SealedSpool | None]:
    """Check everything, reconcile, and report. The decrypted records stay in memory; with
    ``spool_dir`` they go to an encrypted scratch file there instead (``transfer.spool``),
    which is returned for ``receive`` to import from."""
    pkg = PackageFiles(path)
    try:
        return _verify(pkg, identities=identities, verifier_key=verifier_key, spool=spool_dir)
    finally:
        pkg.close()


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a package (directory or tar), parsed; its signature is not checked
    here (``verify_package`` does)."""
    pkg = PackageFiles(path)
    try:
        if pkg.size(MANIFEST_FILE) is None:
            raise IntegrityError(f"{path.name}: {MANIFEST_FILE} is missing; this is not a package")
        return decode_manifest(pkg.read(MANIFEST_FILE))
    finally:
        pkg.close()


def _verify(
    pkg: PackageFiles,
    *,
    identities: Sequence[pyrage.x25519.Identity],
    verifier_key: str | None,
    spool: Path | None,
) -> tuple[Reconciliation, SealedSpool | None]:
    problems: list[str] = []
    warnings: list[str] = []
    for name in (MANIFEST_FILE, SIGNATURE_FILE):
        if pkg.size(name) is None:
            raise IntegrityError(f"{pkg.path.name}: {name} is missing; this is not a package")
    raw = pkg.read(MANIFEST_FILE)
    doc: dict[str, Any] = {}
    try:
        doc = decode_manifest(raw)
    except IntegrityError as exc:
        problems.append(str(exc))
    sig = check_signature(raw, pkg.read(SIGNATURE_FILE), doc=doc, verifier_key=verifier_key)
    if sig.problem:
        problems.append(sig.problem)
    elif not sig.pinned:
        warnings.append(
            f"the signature was checked against the key the package names ({sig.signer}); "
            f"compare its fingerprint {sig.fingerprint} with the seller's out of band, or "
            "pass --verifier-key"
        )
    files = _check_files(pkg, doc)
    given = {recipient_fingerprint(str(i.to_public())) for i in identities}
    named = {f for f in _obj(doc, "recipients").get("fingerprints", []) if isinstance(f, str)}
    matched = len(given & named)
    if doc and not matched:
        problems.append("none of the given identities is a recipient named in the manifest")
    failed: list[str] = []
    records = decrypt_file(
        pkg, RECORDS_FILE, identities, failed, spool=spool / "records.spool" if spool else None
    )
    index = decrypt_file(pkg, INDEX_FILE, identities, failed)
    opened = {RECORDS_FILE: records is not None, INDEX_FILE: index is not None}
    problems += [p for f in files if (p := _file_problem(f, opened=opened[f.name]))]
    problems += failed
    check, categories = _check_records(doc, records, index, problems)
    report = Reconciliation(
        package=pkg.path.name,
        checked_at=datetime.now(UTC),
        ok=not problems,
        problems=problems,
        warnings=warnings,
        format=doc.get("format"),
        manifest_sha256=hashlib.sha256(raw).hexdigest(),
        deal=_get(doc, "deal", "code"),
        seller=_get(doc, "seller"),
        recipient=_get(doc, "recipients", "organization"),
        purpose=_get(doc, "purpose"),
        created_at=_get(doc, "created_at"),
        signature=SignatureOut(
            ok=sig.ok, pinned=sig.pinned, signer=sig.signer, fingerprint=sig.fingerprint
        ),
        identities_matched=matched,
        files=files,
        categories=categories,
        exclusions={k: v for k, v in _obj(doc, "counts", "excluded").items() if isinstance(v, int)},
        consent=_obj(doc, "consent"),
        notices={k: v for k, v in _obj(doc, "notices").items() if isinstance(v, int)},
        records=check,
    )
    return report, (records if isinstance(records, SealedSpool) else None)


def _obj(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A nested object of the manifest, or {} when absent or not an object."""
    cur: Any = doc
    for k in keys:
        cur = cur.get(k) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else {}


def _get(doc: dict[str, Any], *keys: str) -> str | None:
    cur: Any = doc
    for k in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    return None if cur is None else str(cur)


def _check_files(pkg: PackageFiles, doc: dict[str, Any]) -> list[FileCheck]:
    out = []
    for name in (RECORDS_FILE, INDEX_FILE):
        want = _obj(doc, "files", name)
        exp_size = want.get("bytes") if isinstance(want.get("bytes"), int) else None
        exp_sha = want.get("sha256") if isinstance(want.get("sha256"), str) else None
        size = pkg.size(name)
        digest = None
        if size is not None:
            h = hashlib.sha256()
            with pkg.open(name) as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            digest = h.hexdigest()
        ok = size is not None and size == exp_size and digest == exp_sha
        out.append(
            FileCheck(
                name=name,
                expected_bytes=exp_size,
                bytes=size,
                expected_sha256=exp_sha,
                sha256=digest,
                ok=ok,
            )
        )
    return out


def _file_problem(f: FileCheck, *, opened: bool) -> str | None:
    """What is wrong with one file; whether it decrypted tells truncation from substitution."""
    if f.bytes is None:
        return f"{f.name} is missing"
    if f.ok:
        return None
    if not isinstance(f.expected_bytes, int) or not f.expected_sha256:
        return f"{f.name} is not listed in the manifest"
    if not opened and f.bytes < f.expected_bytes:
        return f"{f.name} is truncated: {f.bytes:,} of {f.expected_bytes:,} bytes"
    if opened:
        return (
            f"{f.name} differs from the manifest (SHA-256 mismatch; {f.bytes:,} bytes, "
            f"{f.expected_bytes:,} listed): altered or re-encrypted"
        )
    return f"{f.name} differs from the manifest (SHA-256 mismatch): corrupted"


def _check_records(
    doc: dict[str, Any],
    records: Plain | None,
    index: Plain | None,
    problems: list[str],
) -> tuple[RecordsCheck, list[CategoryRow]]:
    counts = _obj(doc, "counts")
    expected_n = counts.get("records", counts.get("customers"))
    expected_root = _get(doc, "merkle", "root")
    schema: PackageSchema | None = None
    try:
        schema = PackageSchema.from_json(doc.get("schema"))
    except Invalid as exc:
        if doc:
            problems.append(str(exc))
    pf = open_parquet(records, RECORDS_FILE, problems) if records is not None else None
    received = _Received()
    if pf is not None:
        if schema is not None:
            _check_schema(pf.schema_arrow, schema, problems)
        received.scan(pf, schema)
    planted = _obj(doc, "canaries").get("count")
    customers_n = counts.get("customers")
    check = RecordsCheck(
        expected=expected_n if isinstance(expected_n, int) else None,
        received=received.rows,
        canaries=planted if isinstance(planted, int) else None,
        customers=customers_n if isinstance(customers_n, int) else None,
        merkle_root_expected=expected_root,
        merkle_root_received=received.root() if pf is not None else None,
        out_of_order_at=received.out_of_order_at,
    )
    if received.no_subject:
        problems.append(f"{received.no_subject:,} records have no subject id")
    if check.out_of_order_at is not None:
        problems.append(f"records out of order at row {check.out_of_order_at:,}")
    if pf is not None and check.expected is not None and check.received != check.expected:
        problems.append(
            f"the manifest lists {check.expected:,} records; {check.received:,} were received"
        )
    if pf is not None and expected_root and check.merkle_root_received != expected_root:
        problems.append(
            f"Merkle root mismatch: the manifest says {expected_root[:16]}…, the records give "
            f"{(check.merkle_root_received or '')[:16]}…"
        )
    rows = _category_rows(counts.get("per_category", {}), received.per_category, problems)
    if pf is not None and index is not None:
        _reconcile(index, received, expected_root, check, problems)
    return check, rows


def _check_schema(actual: pa.Schema, schema: PackageSchema, problems: list[str]) -> None:
    want = schema.names
    have = list(actual.names)
    for name in want:
        if name not in have:
            problems.append(f"schema: column {name!r} is missing")
    for name in have:
        if name not in want:
            problems.append(f"schema: unexpected column {name!r}")
    if set(have) == set(want) and have != want:
        problems.append("schema: the columns are not in the manifest's order")
    for f in actual:
        if f.name in want and not _is_text(f.type):
            problems.append(f"schema: column {f.name!r} is {f.type}, not string")


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


class _Received:
    """Records as received: count, order, per-record hashes, Merkle root, category counts."""

    def __init__(self) -> None:
        self.rows = 0
        self.no_subject = 0
        self.out_of_order_at: int | None = None
        self.per_category: dict[str, int] = {}
        self.subjects: list[pl.Series] = []
        self.hashes: list[pl.Series] = []
        self._tree = MerkleAccumulator()
        self._last: str | None = None

    def scan(self, pf: pq.ParquetFile, schema: PackageSchema | None) -> None:
        by_cat = schema.by_category() if schema is not None else {}
        for batch in pf.iter_batches(batch_size=_READ_ROWS):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            if SUBJECT not in frame.columns:
                return
            frame = frame.with_columns(pl.col(c).cast(pl.String) for c in frame.columns)
            present = {c: [n for n in cols if n in frame.columns] for c, cols in by_cat.items()}
            add_counts(self.per_category, category_counts(frame, present))
            subjects = frame.get_column(SUBJECT)
            self.no_subject += subjects.null_count()
            self._order(subjects)
            hashes = leaf_hashes(frame)
            self._tree.add(hashes)
            self.subjects.append(subjects)
            self.hashes.append(pl.Series(HASH_COLUMN, hashes, dtype=pl.Binary))
            self.rows += frame.height

    def _order(self, subjects: pl.Series) -> None:
        if self.out_of_order_at is not None or subjects.len() == 0:
            return
        prev = subjects.shift(1, fill_value=self._last) if self._last is not None else None
        bad = (subjects <= prev) if prev is not None else (subjects <= subjects.shift(1))
        where = bad.fill_null(False).arg_true()
        if where.len():
            self.out_of_order_at = self.rows + int(where[0]) + 1
        self._last = subjects[-1]

    def root(self) -> str:
        return self._tree.root().hex()

    def frame(self) -> pl.DataFrame:
        if not self.subjects:
            return pl.DataFrame(schema={SUBJECT: pl.String, HASH_COLUMN: pl.Binary})
        return pl.DataFrame(
            {SUBJECT: pl.concat(self.subjects), HASH_COLUMN: pl.concat(self.hashes)}
        )


def _category_rows(
    expected: object, received: dict[str, int], problems: list[str]
) -> list[CategoryRow]:
    exp = expected if isinstance(expected, dict) else {}
    rows = []
    for cat in list(dict.fromkeys([*exp, *received])):
        want = exp.get(cat) if isinstance(exp.get(cat), int) else None
        got = received.get(cat, 0)
        rows.append(CategoryRow(category=cat, expected=want, received=got))
        if isinstance(want, int) and want != got:
            problems.append(
                f"category {cat}: {want:,} customers with values expected, {got:,} received"
            )
    return rows


def _reconcile(
    index: Plain,
    received: _Received,
    expected_root: str | None,
    check: RecordsCheck,
    problems: list[str],
) -> None:
    """Expected (the seller's index, trusted when its hashes give the signed root) against
    received: missing, extra and altered records by subject id."""
    pf = open_parquet(index, INDEX_FILE, problems)
    if pf is None:
        return
    expected = pl.from_arrow(pf.read())
    assert isinstance(expected, pl.DataFrame)
    if expected.columns != [SUBJECT, HASH_COLUMN]:
        problems.append(f"{INDEX_FILE} does not have the columns {SUBJECT}, {HASH_COLUMN}")
        return
    expected = expected.with_columns(
        pl.col(SUBJECT).cast(pl.String), pl.col(HASH_COLUMN).cast(pl.Binary)
    )
    got = received.frame()
    if expected.equals(got):  # the usual case: the index is the received records' own
        check.index_trusted = check.merkle_root_received == expected_root
        check.missing = check.extra = check.altered = 0
        if not check.index_trusted:  # the root mismatch is reported already
            check.missing = check.extra = check.altered = None
        return
    tree = MerkleAccumulator()
    tree.add(expected.get_column(HASH_COLUMN).to_list())
    if expected_root is None or tree.root().hex() != expected_root:
        problems.append(
            f"{INDEX_FILE} does not give the signed Merkle root: record-level reconciliation "
            "is not possible"
        )
        return
    check.index_trusted = True
    got = got.with_row_index("row", offset=1)
    check.duplicates = got.height - got.get_column(SUBJECT).n_unique()
    if check.duplicates:
        problems.append(f"{check.duplicates:,} subject ids occur more than once in the records")
    joined = expected.join(
        got.unique(SUBJECT, keep="first", maintain_order=True),
        on=SUBJECT,
        how="full",
        coalesce=True,
        suffix="_received",
    )
    received_hash = f"{HASH_COLUMN}_received"
    missing = joined.filter(pl.col(received_hash).is_null() & pl.col(HASH_COLUMN).is_not_null())
    extra = joined.filter(pl.col(HASH_COLUMN).is_null())
    altered = joined.filter(
        pl.col(HASH_COLUMN).is_not_null()
        & pl.col(received_hash).is_not_null()
        & (pl.col(HASH_COLUMN) != pl.col(received_hash))
    ).sort("row")
    check.missing, check.extra, check.altered = missing.height, extra.height, altered.height
    check.missing_subjects = missing.get_column(SUBJECT).head(LIST_LIMIT).to_list()
    check.extra_subjects = extra.sort("row").get_column(SUBJECT).head(LIST_LIMIT).to_list()
    check.altered_subjects = altered.get_column(SUBJECT).head(LIST_LIMIT).to_list()
    for what, frame in (("missing", missing), ("extra", extra)):
        if frame.height:
            problems.append(f"{frame.height:,} records {what} (first: subject {frame[SUBJECT][0]})")
    if altered.height:
        first = altered.row(0, named=True)
        problems.append(
            f"{altered.height:,} records altered (first: subject {first[SUBJECT]} at row "
            f"{first['row']:,})"
        )
