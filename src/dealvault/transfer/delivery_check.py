"""What the server can check of a transfer package it holds, without the recipient's private
key: the manifest's signature by the seller's log key, the manifest against the ledger, and
every encrypted file against the manifest. Decrypting the records and recomputing their
Merkle root needs the recipient's key, which never reaches the server: ``package verify``
does that on the recipient's machine."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dealvault.errors import DealvaultError
from dealvault.transfer.manifest import (
    INDEX_FILE,
    MANIFEST_FILE,
    RECORDS_FILE,
    SIGNATURE_FILE,
    check_signature,
    decode_manifest,
)
from dealvault.transfer.package_files import PackageFiles


class SealedCheck(BaseModel):
    """One check: ``name`` (signature, manifest, records_file, index_file, merkle_root,
    scope), whether it passed, and what was compared (hashes and counts, never a record)."""

    name: str
    ok: bool
    detail: str


class Ledgered(BaseModel):
    """What the ledger says was sent."""

    manifest_sha256: str
    merkle_root: str
    recipient: str
    customers: int
    records: int


class SealedReport(BaseModel):
    checks: list[SealedCheck]
    signer: str | None
    fingerprint: str | None
    #: SHA-256 fingerprints of the age recipient keys the manifest names
    recipients: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def _obj(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    cur: Any = doc
    for k in keys:
        cur = cur.get(k) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else {}


def sealed_checks(path: Path, *, verifier_key: str | None, ledger: Ledgered) -> SealedReport:
    """Every check that needs no private key, each listed whether it passed or not."""
    if not path.exists():
        missing = SealedCheck(
            name="files", ok=False, detail="the package's files are not at the server"
        )
        return SealedReport(checks=[missing], signer=None, fingerprint=None, recipients=[])
    try:
        pkg = PackageFiles(path)
    except DealvaultError as exc:
        bad = SealedCheck(name="files", ok=False, detail=str(exc))
        return SealedReport(checks=[bad], signer=None, fingerprint=None, recipients=[])
    try:
        return _checks(pkg, verifier_key=verifier_key, ledger=ledger)
    finally:
        pkg.close()


def _checks(pkg: PackageFiles, *, verifier_key: str | None, ledger: Ledgered) -> SealedReport:
    out: list[SealedCheck] = []
    if pkg.size(MANIFEST_FILE) is None or pkg.size(SIGNATURE_FILE) is None:
        missing = SealedCheck(
            name="manifest", ok=False, detail=f"{MANIFEST_FILE} or {SIGNATURE_FILE} is missing"
        )
        return SealedReport(checks=[missing], signer=None, fingerprint=None, recipients=[])
    raw = pkg.read(MANIFEST_FILE)
    doc: dict[str, Any] = {}
    problem = None
    try:
        doc = decode_manifest(raw)
    except DealvaultError as exc:
        problem = str(exc)
    sig = check_signature(raw, pkg.read(SIGNATURE_FILE), doc=doc, verifier_key=verifier_key)
    out.append(
        SealedCheck(
            name="signature",
            ok=sig.ok and sig.pinned,
            detail=sig.problem
            or (f"signed by {sig.signer}" + ("" if sig.pinned else " (key not pinned)")),
        )
    )
    digest = hashlib.sha256(raw).hexdigest()
    same = digest == ledger.manifest_sha256 and problem is None
    out.append(
        SealedCheck(
            name="manifest",
            ok=same,
            detail=problem
            or (
                f"SHA-256 {digest}"
                + ("" if same else f"; the ledger records {ledger.manifest_sha256}")
            ),
        )
    )
    for key, name in (("records_file", RECORDS_FILE), ("index_file", INDEX_FILE)):
        out.append(_file_check(pkg, key, name, _obj(doc, "files", name)))
    root = _obj(doc, "merkle").get("root")
    out.append(
        SealedCheck(
            name="merkle_root",
            ok=root == ledger.merkle_root,
            detail=f"{root}" if root == ledger.merkle_root else
            f"the manifest says {root}; the ledger records {ledger.merkle_root}",
        )
    )  # fmt: skip
    counts = _obj(doc, "counts")
    org = _obj(doc, "recipients").get("organization")
    scope_ok = (
        org == ledger.recipient
        and counts.get("records") == ledger.records
        and counts.get("customers") == ledger.customers
    )
    out.append(
        SealedCheck(
            name="scope",
            ok=scope_ok,
            detail=f"{org}: {counts.get('customers')} customers, {counts.get('records')} records"
            + ("" if scope_ok else f"; the ledger records {ledger.recipient}: "
               f"{ledger.customers} customers, {ledger.records} records"),
        )
    )  # fmt: skip
    fps = _obj(doc, "recipients").get("fingerprints")
    return SealedReport(
        checks=out,
        signer=sig.signer,
        fingerprint=sig.fingerprint,
        recipients=[f for f in fps if isinstance(f, str)] if isinstance(fps, list) else [],
    )


def _file_check(pkg: PackageFiles, key: str, name: str, want: dict[str, Any]) -> SealedCheck:
    size = pkg.size(name)
    if size is None:
        return SealedCheck(name=key, ok=False, detail=f"{name} is missing")
    h = hashlib.sha256()
    with pkg.open(name) as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    digest = h.hexdigest()
    ok = size == want.get("bytes") and digest == want.get("sha256")
    detail = f"{size:,} bytes, SHA-256 {digest}"
    if not ok:
        detail += f"; the manifest lists {want.get('bytes')} bytes, SHA-256 {want.get('sha256')}"
    return SealedCheck(name=key, ok=ok, detail=detail)
