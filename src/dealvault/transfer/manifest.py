"""Transfer package format v1: file names, record hashing, Merkle root, manifest and signature."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import pyarrow as pa
import rfc8785

from dealvault import native
from dealvault.audit import merkle
from dealvault.audit.note import Signer, Verifier, open_note, parse_note, sign
from dealvault.errors import IntegrityError, Invalid
from dealvault.ingest.fields import Category

FORMAT: Final = "dealvault/transfer-package/v1"
MANIFEST_FILE: Final = "manifest.json"
SIGNATURE_FILE: Final = "manifest.sig"
RECORDS_FILE: Final = "records.parquet.age"
INDEX_FILE: Final = "records.index.parquet.age"
SUBJECT: Final = "subject_id"
HASH_COLUMN: Final = "record_hash"
MERKLE_ALGORITHM: Final = "RFC9162-SHA256"
LEAF_RULE: Final = "SHA-256(0x00 || RFC8785(record)); record = {column: text or null}"
#: The column of a package's records carrying each customer's marketing consent (yes/no).
MARKETING_COLUMN: Final = "marketing_consent"
#: Reasons a customer of the dataset is not in a package (CustomerRecord.status values).
EXCLUSION_REASONS: Final = ("opted_out", "objecting", "shredded")
CATEGORY_ORDER: Final = tuple(c.value for c in Category)
#: the manifest's ``notices`` object: customers notified (PIPL art. 22), their notice
#: delivered (objected ones included), unreachable, objected, objected after their window
NOTICE_REASONS: Final = ("notified", "delivered", "unreachable", "objected", "objected_late")


@dataclass(frozen=True)
class ColumnSpec:
    """One data column of a package: its name, category and classification (never a value)."""

    name: str
    category: str
    pii_type: str | None = None
    sensitive: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "string",
            "category": self.category,
            "pii_type": self.pii_type,
            "sensitive": self.sensitive,
        }


@dataclass(frozen=True)
class PackageSchema:
    """The records' columns: ``subject_id`` first, then the data columns in this order."""

    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> list[str]:
        return [SUBJECT, *(c.name for c in self.columns)]

    @property
    def categories(self) -> list[str]:
        present = {c.category for c in self.columns}
        return [c for c in CATEGORY_ORDER if c in present]

    def by_category(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {c: [] for c in self.categories}
        for col in self.columns:
            out[col.category].append(col.name)
        return out

    def to_json(self) -> list[dict[str, Any]]:
        head = {
            "name": SUBJECT,
            "type": "string",
            "category": None,
            "pii_type": None,
            "sensitive": False,
        }
        return [head, *(c.to_json() for c in self.columns)]

    @classmethod
    def from_json(cls, doc: object) -> PackageSchema:
        """The schema a manifest states (Invalid when it is malformed)."""
        if not isinstance(doc, list) or not doc or not all(isinstance(c, dict) for c in doc):
            raise Invalid("manifest schema is not a list of columns")
        if doc[0].get("name") != SUBJECT:
            raise Invalid(f"manifest schema does not start with {SUBJECT}")
        cols = []
        for c in doc[1:]:
            name, category = c.get("name"), c.get("category")
            if not isinstance(name, str) or category not in CATEGORY_ORDER:
                raise Invalid("manifest schema has a column without a name or known category")
            cols.append(
                ColumnSpec(name, str(category), c.get("pii_type"), bool(c.get("sensitive")))
            )
        return cls(tuple(cols))


# -- record hashes and the Merkle root ------------------------------------------------------
def jcs_key(name: str) -> bytes:
    """RFC 8785 orders object keys by their UTF-16 code units."""
    return name.encode("utf-16-be")


def leaf_hashes(frame: pl.DataFrame) -> list[bytes]:
    """Each row's RFC 9162 leaf hash: SHA-256(0x00 || RFC 8785 JSON of the row).

    Every column is text or null, so Polars' JSON encoder with the keys in RFC 8785 order is
    RFC 8785 (a test checks it against the ``rfc8785`` package). Neither Arrow nor Polars
    offers SHA-256 over a column: the batch kernel hashes the column in one call.
    """
    if frame.height == 0:
        return []
    cols = sorted(frame.columns, key=jcs_key)
    if native.NATIVE and all(frame.schema[c] == pl.String for c in cols):
        return native.record_hashes(frame.height, _string_columns(frame.select(cols)))
    encoded = frame.select(pl.struct(cols).struct.json_encode().cast(pl.Binary)).to_series()
    return native.leaf_hashes(encoded.to_list())


def _string_columns(frame: pl.DataFrame) -> list[native.RecordColumn]:
    """The frame's text columns as the record-hash kernel takes them (Arrow buffers)."""
    out: list[native.RecordColumn] = []
    for name, column in zip(frame.columns, frame.to_arrow().columns, strict=True):
        arr = column.combine_chunks().cast(pa.large_string())
        valid, offsets, data = arr.buffers()
        key = json.dumps(name, ensure_ascii=False).encode() + b":"
        out.append((key, valid if arr.null_count else None, offsets, data or b"", arr.offset))
    return out


def subtree_root(hashes: Sequence[bytes]) -> bytes | None:
    """The RFC 9162 root of a power-of-two run of leaf hashes (a complete subtree), or None
    for any other length."""
    n = len(hashes)
    if n == 0 or n & (n - 1):
        return None
    return native.merkle_root(list(hashes))


class MerkleAccumulator:
    """The RFC 9162 Merkle tree hash of leaf hashes added batch by batch.

    Only the right border is kept: one complete-subtree hash per set bit of the size, so a
    root over millions of leaves needs memory for one batch. Nodes are SHA-256(0x01 || left
    || right) as ``audit.merkle.node_hash``, computed a level at a time; a test checks the
    root against ``audit.merkle.root_from_leaves``.
    """

    def __init__(self) -> None:
        self.size = 0
        self._border: dict[int, bytes] = {}  # level -> root of the last complete subtree

    def add(self, hashes: Sequence[bytes]) -> None:
        cur, start, level = list(hashes), self.size, 0
        self.size += len(cur)
        sha = hashlib.sha256
        while cur:
            if start & 1:  # a left sibling waits at this level
                cur.insert(0, self._border.pop(level))
                start -= 1
            if len(cur) & 1:  # the last node has no right sibling yet
                self._border[level] = cur.pop()
            pairs = iter(cur)
            cur = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
            start >>= 1
            level += 1

    def add_subtree(self, root: bytes, size: int) -> bool:
        """Add ``size`` leaves given as their complete-subtree root (see :func:`subtree_root`).

        Possible only when ``size`` is a power of two and the tree so far ends on a multiple
        of it (the subtree is then a node of the final tree); returns False otherwise, and
        the caller adds the leaves one by one instead.
        """
        if size < 1 or size & (size - 1) or self.size % size:
            return False
        level, node = size.bit_length() - 1, root
        while level in self._border:  # carry, as in binary addition
            node = hashlib.sha256(b"\x01" + self._border.pop(level) + node).digest()
            level += 1
        self._border[level] = node
        self.size += size
        return True

    def root(self) -> bytes:
        root: bytes | None = None
        for level in sorted(self._border):  # smallest subtree first, folded right to left
            node = self._border[level]
            root = node if root is None else merkle.node_hash(node, root)
        return merkle.EMPTY_ROOT if root is None else root


def category_counts(
    frame: pl.DataFrame, by_category: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Customers with at least one value in each category."""
    exprs = [
        pl.any_horizontal([pl.col(c).is_not_null() for c in cols]).sum().alias(cat)
        for cat, cols in by_category.items()
        if cols
    ]
    if not exprs or frame.height == 0:
        return {cat: 0 for cat in by_category}
    row = frame.select(exprs).row(0, named=True)
    return {cat: int(row.get(cat) or 0) for cat in by_category}


def add_counts(total: dict[str, int], more: Mapping[str, int]) -> None:
    for k, v in more.items():
        total[k] = total.get(k, 0) + v


# -- fingerprints -----------------------------------------------------------------------
def recipient_fingerprint(recipient: str) -> str:
    """SHA-256 of an age recipient string (``age1…``), as ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(recipient.encode("ascii")).hexdigest()


def key_fingerprint(verifier: Verifier) -> str:
    """SHA-256 of the raw Ed25519 public key, hex in groups of four (compare out of band)."""
    digest = hashlib.sha256(verifier.public_key).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, 64, 4))


# -- manifest and signature ---------------------------------------------------------------
def encode_manifest(doc: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of the manifest."""
    return bytes(rfc8785.dumps(dict(doc)))


def decode_manifest(raw: bytes) -> dict[str, Any]:
    """Parse manifest bytes; they must be RFC 8785 exactly (so the signed hash is canonical)."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise IntegrityError(f"{MANIFEST_FILE} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise IntegrityError(f"{MANIFEST_FILE} is not a JSON object")
    if encode_manifest(doc) != raw:
        raise IntegrityError(f"{MANIFEST_FILE} is not in canonical form (RFC 8785)")
    if doc.get("format") != FORMAT:
        raise IntegrityError(f"{MANIFEST_FILE}: unknown package format {doc.get('format')!r}")
    return doc


def note_text(manifest: bytes) -> str:
    """The signed statement: the format line and the manifest's SHA-256 in hex."""
    return f"{FORMAT}\n{hashlib.sha256(manifest).hexdigest()}\n"


def sign_manifest(manifest: bytes, signer: Signer) -> bytes:
    """A C2SP signed note over :func:`note_text` (Ed25519)."""
    return sign(note_text(manifest), [signer])


@dataclass(frozen=True)
class SignatureCheck:
    """How the manifest's signature fared. ``pinned``: checked against a key given by the
    verifier (else against the key the manifest itself names: compare its fingerprint)."""

    ok: bool
    pinned: bool
    signer: str
    fingerprint: str | None
    problem: str | None = None


def check_signature(
    manifest: bytes, note: bytes, *, doc: Mapping[str, Any] | None, verifier_key: str | None
) -> SignatureCheck:
    """Check ``manifest.sig`` against the pinned verifier key, or the manifest's own key."""
    named = (doc or {}).get("signer", {}) if isinstance((doc or {}).get("signer"), dict) else {}
    key = verifier_key or named.get("verifier_key")
    if not isinstance(key, str):
        return SignatureCheck(False, False, "?", None, "no verifier key: pass --verifier-key")
    try:
        verifier = Verifier.from_key(key)
    except Invalid as exc:
        return SignatureCheck(False, verifier_key is not None, "?", None, f"verifier key: {exc}")
    label = f"{verifier.name}+{verifier.key_id:08x}"
    fp = key_fingerprint(verifier)
    pinned = verifier_key is not None
    try:
        text, _ = open_note(note, [verifier])
    except IntegrityError:
        try:
            _, sigs = parse_note(note)
            by = ", ".join(f"{s.name}+{s.key_id:08x}" for s in sigs) or "nobody"
        except Invalid:
            by = "an unreadable note"
        return SignatureCheck(
            False,
            pinned,
            label,
            fp,
            f"{SIGNATURE_FILE}: no valid signature by {label} (signed by {by}): "
            "the manifest was re-signed or the signature altered",
        )
    except Invalid as exc:
        return SignatureCheck(False, pinned, label, fp, f"{SIGNATURE_FILE}: {exc}")
    if text != note_text(manifest):
        return SignatureCheck(
            False,
            pinned,
            label,
            fp,
            f"{MANIFEST_FILE} does not match the signed SHA-256: altered after signing",
        )
    if pinned and named.get("verifier_key") not in (None, verifier_key):
        return SignatureCheck(
            False, pinned, label, fp, f"{MANIFEST_FILE} names a different signer key"
        )
    return SignatureCheck(True, pinned, label, fp)


def file_entry(sha256: str, size: int) -> dict[str, Any]:
    return {"sha256": sha256, "bytes": size}


CONSENT_HINTS: Final = (
    "consent",
    "optin",
    "opt_in",
    "opt-in",
    "optout",
    "opt_out",
    "opt-out",
    "unsubscrib",
    "marketing",
    "同意",
    "授权",
    "退订",
    "拒收",
    "营销",
)


def consent_columns(schema: PackageSchema) -> list[str]:
    """Columns that look like consent or opt-out flags (by name); carried over unchanged."""
    return [c.name for c in schema.columns if any(h in c.name.lower() for h in CONSENT_HINTS)]


def build_manifest(
    *,
    deal: Mapping[str, Any],
    seller: str,
    recipient: str,
    recipients: Sequence[str],
    plan: Mapping[str, Any],
    agreement: Mapping[str, Any] | None,
    purpose: str,
    source: Mapping[str, Any],
    schema: PackageSchema,
    grade: str,
    customers: int,
    records: int,
    canaries: Mapping[str, Any],
    child_rows_left_out: Mapping[str, int],
    per_category: Mapping[str, int],
    excluded: Mapping[str, int],
    merkle_root: str,
    files: Mapping[str, Mapping[str, Any]],
    signer: Verifier,
    created_at: str,
    created_by: str,
    marketing: Mapping[str, int] | None = None,
    notices: Mapping[str, int] | None = None,
    marketing_column: bool = False,
) -> dict[str, Any]:
    """The manifest document (``docs/transfer-package.md`` describes every field).
    ``marketing``: customers of the package with a marketing consent in force (``permitted``)
    and without (``not_permitted``), when the seller imported consent records. ``notices``:
    the customers' PIPL art. 22 notices per reason (a manifest made before them has no such
    object; verifiers accept both)."""
    consent: dict[str, Any] = {
        "opted_out_excluded": int(excluded.get("opted_out", 0)),
        "objecting_excluded": int(excluded.get("objecting", 0)),
        "flag_columns": consent_columns(schema),
        "rule": "customers who opted out or object are not transferred; consent and "
        "opt-out columns are carried over unchanged",
    }
    for reason in ("no_separate_consent", "no_guardian_consent"):  # rules_consent.py
        if reason in excluded:
            consent[f"{reason}_excluded"] = int(excluded[reason])
    if marketing is not None:
        consent["marketing"] = {
            "permitted": int(marketing.get("permitted", 0)),
            "not_permitted": int(marketing.get("not_permitted", 0)),
            "rule": "the recipient may use for advertising or promotion only the customers "
            "whose marketing consent was in force at the transfer (PIPL art. 14, 24)",
            "column": MARKETING_COLUMN if marketing_column else None,
        }
    doc = {
        "format": FORMAT,
        "deal": dict(deal),
        "seller": seller,
        "recipients": {
            "organization": recipient,
            "fingerprints": sorted(recipient_fingerprint(r) for r in recipients),
        },
        "plan": dict(plan),
        "agreement": dict(agreement) if agreement is not None else None,
        "purpose": purpose,
        "source": dict(source),
        "schema": schema.to_json(),
        "classification": {
            "grade": grade,
            "categories": schema.categories,
            "sensitive_columns": [c.name for c in schema.columns if c.sensitive],
        },
        "counts": {
            "customers": customers,
            "records": records,
            "per_category": dict(per_category),
            "child_rows_left_out": dict(child_rows_left_out),
            "excluded": dict(excluded),
        },
        "consent": consent,
        "merkle": {
            "algorithm": MERKLE_ALGORITHM,
            "leaf": LEAF_RULE,
            "order": f"ascending {SUBJECT}",
            "tree_size": records,
            "root": merkle_root,
        },
        "canaries": dict(canaries),
        "files": {name: dict(entry) for name, entry in files.items()},
        "signer": {
            "name": signer.name,
            "verifier_key": signer.key_string(),
            "fingerprint": key_fingerprint(signer),
        },
        "created_at": created_at,
        "created_by": created_by,
    }
    if notices is not None:
        doc["notices"] = {k: int(notices.get(k, 0)) for k in NOTICE_REASONS}
    return doc
