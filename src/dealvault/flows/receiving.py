"""The buyer's side of a transfer package: verify it against the manifest, and receive it
into the buyer's own store (decrypted through a sealed spool, imported, reconciled)."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pyrage
from pydantic import BaseModel

from dealvault.access import service as access
from dealvault.access.principal import Principal
from dealvault.audit.note import Verifier
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import IntegrityError, Invalid
from dealvault.files import file_problem
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize
from dealvault.flows.importing import ImportRequest, ImportSummary, import_source
from dealvault.flows.importing import Progress as ImportProgress
from dealvault.ingest.fields import FIELDS, TableRole
from dealvault.ingest.source import SourceSpec
from dealvault.transfer.intake import RECEIVE_SCRATCH, ReceivedRecords
from dealvault.transfer.package_canaries import (
    NOTE_SUFFIX,
    read_note,
)
from dealvault.transfer.reconcile import read_manifest, verify_package
from dealvault.transfer.reconcile_report import Reconciliation, write_reports
from dealvault.transfer.scratch import Scratch, clean_leftovers

#: progress(customers written, customers expected)
BuildProgress = Callable[[int, int], None]


class ReceiveOut(BaseModel):
    report: Reconciliation
    imported: ImportSummary
    #: canary records found by the seller's list and left out of the import
    canaries_removed: int = 0


def verify(
    stores: AppStores,
    *,
    actor: Principal,
    package: Path,
    identities: Sequence[pyrage.x25519.Identity],
    verifier_key: str | None = None,
    json_report: Path | None = None,
    html_report: Path | None = None,
) -> Reconciliation:
    """Check a package and write the reconciliation report; the check is audited (result and
    counts) in this store. A failed check is a result, not an error."""
    with stores.unit_of_work() as uow:  # decided before the package is opened
        authorize(
            stores,
            uow.records,
            actor=actor,
            action="package.verify",
            event=EventIn(action="package.verify", objects={"package": package.name}),
        )
    report, _ = verify_package(package, identities=identities, verifier_key=verifier_key)
    write_reports(report, json_path=json_report, html_path=html_report)
    with stores.unit_of_work() as uow:
        audit(stores, uow, _event("package.verify", actor, report, deal=None))
    return report


def _event(action: str, actor: Principal, report: Reconciliation, *, deal: str | None) -> EventIn:
    r = report.records
    counts = {"expected": r.expected or 0, "received": r.received}
    for name in ("missing", "extra", "altered"):
        value = getattr(r, name)
        if value is not None:
            counts[name] = value
    return EventIn(
        action=action,
        actor=actor.email,
        authn=actor.authn.value,
        session=actor.session_id,
        client=actor.client,
        device=actor.device,
        deal=deal,
        purpose=report.purpose,
        decision="allow" if report.ok else "deny",
        objects={
            "package": report.package,
            "result": "verified" if report.ok else "failed",
            "seller_deal": report.deal,
            "seller": report.seller,
            "manifest_sha256": report.manifest_sha256,
            "merkle_root": r.merkle_root_expected,
            "signer": report.signature.signer,
            "signer_pinned": "yes" if report.signature.pinned else "no",
        },
        reasons=tuple(report.problems[:10]),
        counts=counts,
    )


def receive(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    package: Path,
    identities: Sequence[pyrage.x25519.Identity],
    verifier_key: str | None,
    rejects_dir: Path,
    canaries: Path | None = None,
    work_dir: Path | None = None,
    json_report: Path | None = None,
    html_report: Path | None = None,
    progress: ImportProgress | None = None,
) -> ReceiveOut:
    """Verify, then import the records into ``dataset`` of ``deal`` in this (the buyer's)
    store under its own keys (``flows.importing``: decided, all or nothing, audited).

    A package that fails verification is refused (the refusal is recorded). A package with
    canary records needs the seller's signed canary list (``canaries``): they are left out,
    and a list that is not the seller's or not this package's is refused. The decrypted
    records never lie on disk in clear: they pass through a scratch file encrypted under a
    throwaway key (``transfer.spool``) in a private directory under ``work_dir`` (default:
    the system's temporary directory), removed afterwards; what a killed receive left there
    is removed when the next one starts.
    """
    with stores.unit_of_work() as uow:  # decided before the package is opened
        authorize(
            stores,
            uow.records,
            actor=actor,
            action="dataset.import",
            deal=access.get_deal(uow.records, code=deal),
            event=EventIn(action="package.receive", objects={"package": package.name}),
        )
    root = work_dir if work_dir is not None else Path(tempfile.gettempdir())
    clean_leftovers(root, RECEIVE_SCRATCH)
    with Scratch.new(root, lambda: f"dealvault-receive-{secrets.token_hex(8)}") as tmp:
        report, records = verify_package(
            package, identities=identities, verifier_key=verifier_key, spool_dir=tmp.path
        )
        write_reports(report, json_path=json_report, html_path=html_report)
        if not report.ok or records is None:
            with stores.unit_of_work() as uow:
                audit(stores, uow, _event("package.receive", actor, report, deal=deal))
            raise IntegrityError(
                "the package failed verification; nothing was imported: "
                + "; ".join(report.problems[:3])
            )
        drop = _canary_subjects(package, report, canaries=canaries, verifier_key=verifier_key)
        source = ReceivedRecords(
            spool=records, name=f"{package.name.removesuffix('.tar')}-records.parquet", drop=drop
        )
        event = _event("package.receive", actor, report, deal=deal)

        def receipt(summary: ImportSummary) -> EventIn:
            if source.dropped != len(drop):  # raised inside the import: it rolls back
                raise IntegrityError(
                    f"the canary list names {len(drop)} records; {source.dropped} are in the "
                    "package"
                )
            return replace(
                event,
                objects=dict(event.objects) | {"dataset": dataset, "import": summary.import_id},
                counts=dict(event.counts)
                | {
                    "imported": summary.rows_imported,
                    "merged": summary.rows_merged,
                    "rejected": summary.rows_rejected,
                    "canaries_removed": source.dropped,
                },
            )

        summary = import_source(
            stores,
            keyring,
            request=ImportRequest(
                actor=actor,
                deal=deal,
                dataset=dataset,
                spec=SourceSpec(opened=source),
                role=TableRole.CUSTOMERS,
                overrides={c: (c if c in FIELDS else None) for c in source.columns},
            ),
            rejects_dir=rejects_dir,
            progress=progress,
            then=receipt,  # the import and its receipt: one transaction
        )
    return ReceiveOut(report=report, imported=summary, canaries_removed=source.dropped)


def _canary_subjects(
    package: Path, report: Reconciliation, *, canaries: Path | None, verifier_key: str | None
) -> set[str]:
    manifest = read_manifest(package)
    entry = manifest.get("canaries") or {}
    count = entry.get("count") if isinstance(entry, dict) else None
    if not count:
        return set()
    if canaries is None:
        raise Invalid(
            f"this package holds {count} canary records: give the seller's canary list "
            f"(--canaries {package.name}{NOTE_SUFFIX}) so that they are not imported"
        )
    problem = file_problem(canaries)
    if problem is not None:
        raise Invalid(f"canary list {canaries}: {problem}")
    key = verifier_key or manifest.get("signer", {}).get("verifier_key")
    if not isinstance(key, str) or report.manifest_sha256 is None:
        raise IntegrityError("the package names no signer to check the canary list against")
    try:
        subjects = read_note(
            canaries.read_bytes(),
            verifier=Verifier.from_key(key),
            manifest=manifest,
            manifest_sha256=report.manifest_sha256,
        )
    except IntegrityError as exc:
        raise IntegrityError(f"canary list {canaries.name}: {exc}") from None
    return set(subjects)
