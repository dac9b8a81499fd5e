"""Use cases on backups: create (and verify), verify, restore, list; each one audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dealvault.access.models import Person
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.db import migrate
from dealvault.db.base import utcnow
from dealvault.errors import DealvaultError, IntegrityError, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, authorize, person_of
from dealvault.transfer import backup as bk
from dealvault.transfer.backup_db import STORES, Progress, no_progress
from dealvault.transfer.models import Backup
from dealvault.vault.models import CustomerRecord

FULL_VERIFY_HINT = "only the ciphertext's hash was checked: a full verify needs the age identity"


class BackupOut(BaseModel):
    id: int
    path: str
    backend: str
    size_bytes: int
    sha256: str
    recipients: list[str]
    reason: str | None
    created_by: str | None
    created_at: datetime
    verified_at: datetime | None
    #: What the last check of this call covered: "full", "ciphertext" or None (not checked).
    checked: str | None = None
    warning: str | None = None


class MemberOut(BaseModel):
    store: str
    member: str
    source: str
    size: int
    sha256: str
    alembic_revision: str | None


class VerifyOut(BaseModel):
    backup_id: int | None
    path: str
    sha256: str
    size_bytes: int
    level: str  # "full" or "ciphertext"
    backend: str | None
    created_at: str | None
    members: list[MemberOut]
    verified_at: datetime | None
    warning: str | None = None


class RestoreOut(BaseModel):
    backup: str
    backend: str
    target: str
    records_url: str
    keystore_url: str
    created_at: str
    revisions: dict[str, str | None]
    head_revisions: dict[str, str | None]
    needs_upgrade: bool
    customers: dict[str, int]
    members: list[MemberOut]


def _view(s: Session, row: Backup, **extra: Any) -> BackupOut:
    who = s.get(Person, row.created_by) if row.created_by is not None else None
    return BackupOut(
        id=row.id,
        path=row.path,
        backend=row.backend,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        recipients=row.recipients.splitlines(),
        reason=row.reason,
        created_by=who.email if who else None,
        created_at=row.created_at,
        verified_at=row.verified_at,
        **extra,
    )


def _members(manifest: dict[str, Any] | None) -> list[MemberOut]:
    if manifest is None:
        return []
    return [MemberOut(store=k, **v) for k, v in manifest["stores"].items()]


def _authorize(stores: AppStores, *, actor: Principal, action: str, event: EventIn) -> EventIn:
    """A backup holds every deal's data: store operators only (the one decision point)."""
    with stores.unit_of_work() as uow:
        _, allowed = authorize(stores, uow.records, actor=actor, action=action, event=event)
        return allowed


def _record_failure(stores: AppStores, event: EventIn, exc: DealvaultError) -> None:
    """A failed check or restore is recorded in a transaction of its own, then re-raised."""
    with stores.unit_of_work() as uow:
        objects = {**event.objects, "result": "failed", "problem": exc.code}
        audit(stores, uow, replace(event, objects=objects))


def _find(s: Session, path: Path, sha256: str | None = None) -> Backup | None:
    row = s.scalar(select(Backup).where(Backup.path == str(path.resolve())))
    if row is None and sha256 is not None:
        row = s.scalar(select(Backup).where(Backup.sha256 == sha256).order_by(Backup.id.desc()))
    return row


def create_backup(
    stores: AppStores,
    *,
    actor: Principal,
    out_dir: Path,
    recipients: list[str],
    identity: Any | None = None,
    reason: str | None = None,
    progress: Progress = no_progress,
) -> BackupOut:
    """Snapshot both stores to an age-encrypted file, record it, then verify what was written.

    With ``identity`` the file is decrypted and every member checked (``verified_at`` set);
    without, only the ciphertext's hash is re-read, and the result carries a warning.
    """
    event = _authorize(
        stores,
        actor=actor,
        action="backup.store",
        event=EventIn(action="backup.create", purpose=reason),
    )
    bk.parse_recipients(recipients)  # fail before the snapshot, not after
    written = bk.write_backup(stores, out_dir=out_dir, recipients=recipients, progress=progress)
    try:
        with stores.unit_of_work() as uow:
            person = person_of(uow.records, actor)
            row = Backup(
                path=str(written.path.resolve()),
                backend=written.manifest["backend"],
                size_bytes=written.size,
                sha256=written.sha256,
                recipients="\n".join(r.strip() for r in recipients if r.strip()),
                reason=reason,
                created_by=person.id,
            )
            uow.records.add(row)
            uow.records.flush()
            objects: dict[str, str | int | None] = {
                "backup": row.id,
                "file": written.path.name,
                "backend": row.backend,
                "sha256": row.sha256,
                "recipients": len(row.recipients.splitlines()),
            }
            audit(
                stores,
                uow,
                replace(event, objects=objects, counts={"bytes": row.size_bytes}),
            )
            backup_id = row.id
    except BaseException:
        written.path.unlink(missing_ok=True)  # no file without its ledger row
        raise
    verified = verify_backup(
        stores, path=written.path, identity=identity, actor=actor, progress=progress
    )
    with stores.records_session() as s:
        stored = s.get(Backup, backup_id)
        assert stored is not None
        return _view(s, stored, checked=verified.level, warning=verified.warning)


def verify_backup(
    stores: AppStores,
    *,
    path: Path,
    identity: Any | None,
    actor: Principal,
    work_dir: Path | None = None,
    progress: Progress = no_progress,
) -> VerifyOut:
    """Check a backup file: its recorded hash; with an identity, every member inside it."""
    allowed = _authorize(
        stores, actor=actor, action="backup.read", event=EventIn(action="backup.verify")
    )
    bk.require_file(path)
    with stores.records_session() as s:
        row = _find(s, path)
        if row is None:
            row = _find(s, path, bk.file_sha256(path)[0])
        backup_id, expected = (row.id, row.sha256) if row else (None, None)
    if backup_id is None and identity is None:
        raise Invalid(
            f"{path.name} is not a backup recorded in this store: give the age identity to "
            "verify it on its own"
        )
    event = replace(
        allowed,
        objects={
            "backup": backup_id,
            "file": path.name,
            "level": "full" if identity else "ciphertext",
        },
    )
    try:
        checked = bk.check_backup(
            path, identity=identity, expected_sha256=expected, work_dir=work_dir, progress=progress
        )
    except DealvaultError as exc:
        _record_failure(stores, event, exc)
        raise
    with stores.unit_of_work() as uow:
        verified_at = None
        if backup_id is not None:
            stored = uow.records.get(Backup, backup_id)
            assert stored is not None
            if checked.full:
                stored.verified_at = utcnow()
            verified_at = stored.verified_at
        audit(stores, uow, replace(event, objects={**event.objects, "result": "ok"}))
    m = checked.manifest
    return VerifyOut(
        backup_id=backup_id,
        path=str(path),
        sha256=checked.sha256,
        size_bytes=checked.size,
        level="full" if checked.full else "ciphertext",
        backend=m["backend"] if m else None,
        created_at=m["created_at"] if m else None,
        members=_members(m),
        verified_at=verified_at,
        warning=None if checked.full else FULL_VERIFY_HINT,
    )


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def restore_backup(
    stores: AppStores,
    *,
    actor: Principal,
    path: Path,
    identity: Any,
    to_dir: Path | None = None,
    records_url: str | None = None,
    keystore_url: str | None = None,
    progress: Progress = no_progress,
) -> RestoreOut:
    """Restore into a new place (a directory for SQLite; two empty databases for PostgreSQL),
    then check the restored schema revisions and count its customers. Never overwrites."""
    if (to_dir is None) == (records_url is None or keystore_url is None):
        raise Invalid("restore into --to DIR (SQLite) or --records-url and --keystore-url")
    if (records_url is None) != (keystore_url is None):
        raise Invalid("give both --records-url and --keystore-url")
    if to_dir is not None:
        target = str(to_dir)
    else:
        target = f"{make_url(records_url or '').database}, {make_url(keystore_url or '').database}"
    event = _authorize(
        stores,
        actor=actor,
        action="backup.restore",
        event=EventIn(action="backup.restore", objects={"file": path.name, "target": target}),
    )
    bk.require_file(path)
    with stores.records_session() as s:
        row = _find(s, path)
        backup_id, expected = (row.id, row.sha256) if row else (None, None)
    try:
        if expected is not None:  # the file recorded when written, unchanged
            bk.check_backup(path, identity=None, expected_sha256=expected)
        if to_dir is not None:
            manifest, rec_url, ks_url = bk.restore_sqlite(
                path, identity=identity, to_dir=to_dir, progress=progress
            )
        else:
            assert records_url is not None and keystore_url is not None
            rec_url, ks_url = records_url, keystore_url
            manifest = bk.restore_postgres(
                path,
                identity=identity,
                records_url=rec_url,
                keystore_url=ks_url,
                progress=progress,
            )
        revisions, customers = _inspect(rec_url, ks_url, manifest)
    except DealvaultError as exc:
        _record_failure(stores, event, exc)
        raise
    with stores.unit_of_work() as uow:
        objects = {**event.objects, "backup": backup_id, "result": "ok"}
        counts = {f"customers_{k}": v for k, v in customers.items()}
        audit(stores, uow, replace(event, objects=objects, counts=counts))
    heads: dict[str, str | None] = {s: migrate.head_revision(s) for s in STORES}
    return RestoreOut(
        backup=path.name,
        backend=manifest["backend"],
        target=target,
        records_url=_safe_url(rec_url),
        keystore_url=_safe_url(ks_url),
        created_at=manifest["created_at"],
        revisions=revisions,
        head_revisions=heads,
        needs_upgrade=revisions != heads,
        customers=customers,
        members=_members(manifest),
    )


def _inspect(
    records_url: str, keystore_url: str, manifest: dict[str, Any]
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Open the restored stores as they are (no migration): revisions and customer counts."""
    restored = AppStores.connect(
        records_url=records_url, keystore_url=keystore_url, migrate_schema=False
    )
    try:
        revisions: dict[str, str | None] = {
            "records": migrate.current_revision(restored.records_engine, "records"),
            "keystore": migrate.current_revision(restored.keystore_engine, "keystore"),
        }
        for store, rev in revisions.items():
            if rev != manifest["stores"][store]["alembic_revision"]:
                raise IntegrityError(
                    f"restored {store} store is at revision {rev}, the backup's manifest says "
                    f"{manifest['stores'][store]['alembic_revision']}"
                )
        with restored.records_session() as s:
            rows = s.execute(
                select(CustomerRecord.status, func.count()).group_by(CustomerRecord.status)
            ).all()
        return revisions, {str(status): int(n) for status, n in sorted(rows)}
    finally:
        restored.dispose()


def list_backups(stores: AppStores, *, actor: Principal) -> list[BackupOut]:
    with stores.unit_of_work() as uow:
        _, event = authorize(
            stores,
            uow.records,
            actor=actor,
            action="backup.read",
            event=EventIn(action="backup.list"),
        )
        out = [
            _view(uow.records, r) for r in uow.records.scalars(select(Backup).order_by(Backup.id))
        ]
        audit(stores, uow, event)
        return out
