"""Use cases of transfer packages: build (seller), verify and receive (buyer), each audited."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.agreements import agreement_covers, agreements_in_force
from dealvault.access.decision import Decision, decide
from dealvault.access.models import Deal, Organization
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn, SubjectPacker, canonical_json
from dealvault.compliance.rules_consent import excluded_for_consent
from dealvault.config import Settings
from dealvault.consent.service import count_active
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid, NotFound
from dealvault.flows.compliance import refusals as compliance_refusals
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, checkpoint, enforce
from dealvault.flows.transfer import LedgerEntry, ledger_view, open_plan
from dealvault.parallel import usable_cores
from dealvault.transfer import plan_notices, plans
from dealvault.transfer.canaries import canaries_for
from dealvault.transfer.canary_seal import canary_keys
from dealvault.transfer.manifest import (
    FORMAT,
    MARKETING_COLUMN,
    ColumnSpec,
    PackageSchema,
    build_manifest,
)
from dealvault.transfer.models import TransferPackage
from dealvault.transfer.package import (
    clean_partials,
    install_headers,
    make_archive,
    package_size,
    parse_recipients,
    partial_name,
    sync_package,
    writable_target,
    write_manifest,
    write_private,
    write_records,
)
from dealvault.transfer.package_canaries import (
    PACKAGE_CANARIES,
    canary_records,
    draw_subjects,
    manifest_entry,
    merge_canaries,
    note_path,
    sign_note,
)
from dealvault.transfer.package_consent import flag_canaries, marketing_counts, marketing_flag
from dealvault.transfer.records import (
    BATCH_ROWS,
    ReadStats,
    child_rows_left_out,
    customer_batches,
    exclusions,
    package_schema,
    status_counts,
)
from dealvault.transfer.scratch import Scratch
from dealvault.vault.jobs import lock
from dealvault.vault.models import ImportRun

#: progress(customers written, customers expected)
BuildProgress = Callable[[int, int], None]


class PackageOut(LedgerEntry):
    """The ledger row of a built package plus what the buyer should compare out of band."""

    signer_fingerprint: str
    excluded: dict[str, int]
    per_category: dict[str, int]
    #: rows of child tables (orders, notes) in the plan's categories that v1 does not carry
    child_rows_left_out: dict[str, int] = Field(default_factory=dict)


def _source(session: Session, dataset_id: int) -> dict[str, object]:
    """The dataset's imports (content hashes of the source files) and a hash over them."""
    rows = session.execute(
        select(ImportRun.id, ImportRun.content_hash, ImportRun.rows_imported)
        .where(ImportRun.dataset_id == dataset_id, ImportRun.finished_at.is_not(None))
        .order_by(ImportRun.id)
    ).all()
    imports = [{"import": i, "content_hash": h, "rows": n} for i, h, n in rows]
    digest = hashlib.sha256(canonical_json({"imports": imports})).hexdigest()
    return {"imports": imports, "hash": f"sha256:{digest}"}


def build_package(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    plan_id: int,
    out: Path,
    archive: bool = False,
    batch_rows: int = BATCH_ROWS,
    workers: int = 0,
    settings: Settings | None = None,
    progress: BuildProgress | None = None,
    at: datetime | None = None,
) -> PackageOut:
    """Build the package of an approved plan at closing (seller steward), sign it, record it
    in the transfer ledger and the audit log: all or nothing.

    ``out`` is the package directory, or with ``archive`` a ``.tar`` of it; it must not exist.
    ``workers``: processes decrypting customers (0: one per usable core; 1: none).
    The recipient's canary customers (``settings``: e-mail domain and phones) are merged into
    the records; their signed list is written beside the package (``<out>.canaries``) for the
    buyer's steward, to be handed over apart from the package.
    """
    at = at or utcnow()
    writable_target(out)
    note_file = note_path(out)
    writable_target(note_file)
    clean_partials(out)  # what killed builds left here
    scratch = Scratch.new(out.parent, lambda: partial_name(out))
    work = scratch.path
    try:
        with stores.unit_of_work() as uow:
            s = uow.records
            plan, deal, ds = open_plan(s, plan_id)
            person, _ = authorize(
                stores,
                s,
                actor=actor,
                action="package.build",
                deal=deal,
                event=EventIn(action="package.build", objects={"plan": plan.id}),
            )
            org = s.get(Organization, plan.recipient_id)
            assert org is not None
            cats = plans.split(plan.categories)
            event = EventIn(
                action="package.build",
                actor=person.email,
                authn=actor.authn.value,
                session=actor.session_id,
                client=actor.client,
                device=actor.device,
                deal=deal.code,
                purpose=plan.purpose,
                objects={
                    "plan": plan.id,
                    "dataset": ds.name,
                    "recipient": org.name,
                    "stage": deal.stage,
                },
            )
            reasons = (
                []
                if plan.status == "approved"
                else [f"transfer plan {plan.id} is {plan.status}, not approved"]
            )
            reasons += plans.closing_problems(s, plan=plan, deal=deal, dataset=ds, at=at)
            reasons += compliance_refusals(s, plan=plan)  # the gate (docs/compliance.md)
            read = decide(
                s,
                actor=person,
                deal=deal,
                action="read",
                categories=cats,
                level="full",
                dataset=ds.name,
                dataset_id=ds.id,
                purpose=plan.purpose,
                at=at,
            )
            if not read.allowed:
                reasons += read.reasons
            enforce(stores, Decision(not reasons, "full", tuple(reasons) or read.reasons), event)
            ds = lock(uow, ds, job="package build")  # no shred or import while it is read
            signer = stores.audit.signer
            if signer is None:
                raise Invalid("this store has no signing key to sign the manifest; run init")
            schema = package_schema(uow, dataset=ds, categories=cats)
            counts = status_counts(uow.records, dataset=ds)
            excluded = exclusions(counts)
            stats = ReadStats()
            packer = SubjectPacker()
            expected = counts.get("active", 0)
            # customers the plan may not take for want of consent (compliance/rules_consent.py)
            unconsented = excluded_for_consent(deal_kind=deal.kind, categories=cats, at=at)
            for reason, cond in unconsented.items():
                if n := count_active(s, dataset_id=ds.id, where=[cond]):
                    excluded[reason] = n
                    expected -= n
            if not expected:
                raise Conflict(f"dataset {ds.name} has no customers to transfer")
            marketing = marketing_counts(s, dataset_id=ds.id, unconsented=unconsented, at=at)
            flags = marketing_flag(schema, marketing=marketing, categories=cats, at=at)
            if flags:
                schema = PackageSchema((*schema.columns, ColumnSpec(MARKETING_COLUMN, "contact")))
            planted = canaries_for(
                s,
                keys=canary_keys(keyring, uow.keys),
                deal=deal,
                dataset_id=ds.id,
                recipient=org,
                settings=settings or Settings(),
                count=PACKAGE_CANARIES,
            )
            canary_subjects = draw_subjects(s, dataset=ds, count=planted.height)
            salt = secrets.token_bytes(16)
            planted_set = set(canary_subjects)

            def real_subjects(subjects: list[str]) -> None:
                packer.add([x for x in subjects if x not in planted_set])

            total = expected + len(canary_subjects)
            result = write_records(
                work,
                frames=merge_canaries(
                    customer_batches(
                        uow,
                        keyring,
                        actor=person,
                        deal=deal,
                        dataset=ds,
                        schema=schema,
                        purpose=plan.purpose,
                        stats=stats,
                        batch_rows=batch_rows,
                        workers=workers or usable_cores(),
                        where=[~cond for cond in unconsented.values()],
                        flags=flags,
                    ),
                    flag_canaries(
                        canary_records(planted, subjects=canary_subjects, schema=schema),
                        marketing=marketing if flags else None,
                    ),
                    schema=schema,
                ),
                schema=schema,
                recipients=parse_recipients(plans.recipients_of(plan)),
                progress=(lambda n: progress(n, total)) if progress else None,
                on_subjects=real_subjects,
            )
            customers = result.customers - len(canary_subjects)
            left_out = child_rows_left_out(uow, dataset=ds, categories=cats)
            excluded["shredded"] = excluded.get("shredded", 0) + stats.shredded_meanwhile
            agreement = next(
                a
                for a in agreements_in_force(
                    s, deal=deal, organization_id=org.id, at=at, kinds=["transfer"]
                )
                if agreement_covers(a, dataset=ds.name, categories=cats)
            )
            manifest = build_manifest(
                deal={"code": deal.code, "name": deal.name, "kind": deal.kind},
                seller=person.organization.name,
                recipient=org.name,
                recipients=plans.recipients_of(plan),
                plan={
                    "id": plan.id,
                    "approved_at": plan.decided_at.isoformat() if plan.decided_at else None,
                    "approver_roles": [a.role for a in plans.approvals(s, plan)],
                },
                agreement={
                    "id": agreement.id,
                    "kind": agreement.kind,
                    "title": agreement.title,
                    "effective": agreement.effective.isoformat(),
                    "expires": agreement.expires.isoformat() if agreement.expires else None,
                },
                purpose=plan.purpose,
                source={"dataset": ds.name, **_source(s, ds.id)},
                schema=schema,
                grade=ds.grade,
                customers=customers,
                records=result.customers,
                canaries=manifest_entry(salt=salt, subjects=canary_subjects),
                child_rows_left_out=left_out,
                per_category=result.per_category,
                excluded=excluded,
                merkle_root=result.merkle_root,
                files=result.files,
                signer=signer.verifier(),
                created_at=at.isoformat(timespec="seconds"),
                created_by=person.email,
                marketing=marketing,
                marketing_column=bool(flags),
                notices=plan_notices.manifest_counts(s, plan),
            )
            manifest_sha = write_manifest(work, manifest=manifest, signer=signer)
            sync_package(work)
            note = sign_note(
                manifest_sha256=manifest_sha, salt=salt, subjects=canary_subjects, signer=signer
            )
            row = TransferPackage(
                plan_id=plan.id,
                deal_id=deal.id,
                recipient_id=org.id,
                path=str(out),
                customers=customers,
                records=result.customers,
                size_bytes=package_size(work),
                merkle_root=result.merkle_root,
                manifest_sha256=manifest_sha,
                purpose=plan.purpose,
                canary_note=note.decode("utf-8"),
                created_by=person.id,
                created_at=at,
            )
            s.add(row)
            s.flush()
            audit(
                stores,
                uow,
                replace(
                    event,
                    decision="allow",
                    objects=dict(event.objects)
                    | {
                        "package": row.id,
                        "format": FORMAT,
                        "manifest_sha256": manifest_sha,
                        "merkle_root": result.merkle_root,
                    },
                    counts={
                        "customers": customers,
                        "canaries": len(canary_subjects),
                        "bytes": row.size_bytes,
                    }
                    | {f"excluded_{k}": v for k, v in excluded.items()},
                    subjects=packer,
                ),
            )
            checkpoint(stores, uow, reason=f"transfer package {row.id} built")
            built = PackageOut(
                **ledger_view(s, row).model_dump(),
                signer_fingerprint=str(manifest["signer"]["fingerprint"]),
                excluded=excluded,
                per_category=result.per_category,
                child_rows_left_out=left_out,
            )
    except BaseException:
        scratch.remove()  # nothing was recorded: the partial package (undecryptable) goes
        raise
    # Recorded first, then made decryptable and put in place: a package never exists
    # without its ledger row and audit event.
    try:
        install_headers(work, result.headers)
        if archive:
            make_archive(work, out)
        else:
            os.replace(work, out)
    except OSError:
        scratch.release()
        raise Conflict(
            f"transfer package {built.id} was recorded but could not be put at {out}; "
            f"it is complete in {work} (move it before the next build there removes it)"
        ) from None
    scratch.remove()  # gone already unless it was archived
    try:
        write_private(note_file, note)
    except OSError:
        raise Conflict(
            f"transfer package {built.id} is in place but its canary list could not be "
            f"written to {note_file}; reissue it with `dealvault package canaries {built.id}`"
        ) from None
    return built


def reissue_canary_note(stores: AppStores, *, actor: Principal, package_id: int, out: Path) -> int:
    """Write a package's signed canary list to ``out`` again (a seller steward of its deal:
    the ``package.canaries`` decision); audited. Returns how many canary records it names."""
    writable_target(out)
    with stores.unit_of_work() as uow:
        s = uow.records
        row = s.get(TransferPackage, package_id)
        if row is None:
            raise NotFound(f"transfer package {package_id} not found")
        deal = s.get(Deal, row.deal_id)
        assert deal is not None
        _, event = authorize(
            stores,
            s,
            actor=actor,
            action="package.canaries",
            deal=deal,
            event=EventIn(
                action="package.canaries",
                purpose="hand the canary list to the buyer's steward",
                objects={"package": row.id},
            ),
        )
        if row.canary_note is None:
            raise Conflict(f"transfer package {package_id} was built without canary records")
        note = row.canary_note.encode("utf-8")
        count = row.canary_note.count("\nsubject ")
        audit(stores, uow, replace(event, counts={"canaries": count}))
    write_private(out, note)  # after the commit: no list leaves without its audit event
    return count
