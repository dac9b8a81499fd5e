"""Training records: completed courses, their validity, and the all-or-nothing CSV import."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.agreements import utc_day
from dealvault.access.governance_models import TrainingRecord
from dealvault.access.models import Person
from dealvault.db.base import utcnow
from dealvault.db.memo import recall
from dealvault.errors import Conflict, InputError, Invalid
from dealvault.files import file_problem

CONFIDENTIALITY = "confidentiality"
CSV_COLUMNS = ("email", "course", "completed", "expires")
REQUIRED_COLUMNS = ("email", "course", "completed")
MAX_CSV_BYTES = 10 * 1024 * 1024


class TrainingOut(BaseModel):
    id: int
    person: str
    organization: str
    course: str
    completed: date
    expires: date | None
    valid_now: bool
    source: str | None


class TrainingImportOut(BaseModel):
    file: str
    sha256: str
    rows: int
    imported: int
    skipped: int


@dataclass(frozen=True)
class TrainingRow:
    """One checked row of an import, ready to store."""

    row: int
    person_id: int
    course: str
    completed: date
    expires: date | None


def normalize_course(course: str) -> str:
    name = course.strip().lower()
    if not name or len(name) > 120 or any(not ch.isprintable() for ch in name):
        raise Invalid("course must be 1 to 120 printable characters")
    return name


def _check_dates(completed: date, expires: date | None, *, today: date) -> str | None:
    """Why these dates are wrong (and which column), or None."""
    if completed > today + timedelta(days=1):
        return "completed: date is in the future"
    if expires is not None and expires < completed:
        return "expires: date is before completed"
    return None


# -- one record ----------------------------------------------------------------------------
def add_training(
    session: Session,
    *,
    person: Person,
    course: str,
    completed: date,
    expires: date | None = None,
    source: str | None = "manual",
) -> TrainingRecord:
    name = normalize_course(course)
    problem = _check_dates(completed, expires, today=utcnow().date())
    if problem is not None:
        raise Invalid(problem)
    exists = session.scalar(
        select(TrainingRecord.id).where(
            TrainingRecord.person_id == person.id,
            TrainingRecord.course == name,
            TrainingRecord.completed == completed,
        )
    )
    if exists is not None:
        raise Conflict(f"training record #{exists} already has this person, course and date")
    record = TrainingRecord(
        person_id=person.id,
        course=name,
        completed=completed,
        expires=expires,
        source=source,
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def valid_training(
    session: Session, *, person: Person, course: str, at: datetime
) -> TrainingRecord | None:
    """The person's record of ``course`` valid on ``at``'s UTC day (the longest-lasting one).

    ``completed`` and ``expires`` are inclusive days.
    """
    day = utc_day(at)
    rows = _records(session, person=person, course=normalize_course(course))
    valid = [r for r in rows if r.completed <= day and (r.expires is None or day <= r.expires)]
    if not valid:
        return None
    return max(valid, key=lambda r: (r.expires is None, r.expires or date.min, r.id))


def _records(session: Session, *, person: Person, course: str) -> tuple[TrainingRecord, ...]:
    """Every record of ``course`` (normalised) for ``person``."""

    def load() -> tuple[TrainingRecord, ...]:
        return tuple(
            session.scalars(
                select(TrainingRecord).where(
                    TrainingRecord.person_id == person.id, TrainingRecord.course == course
                )
            )
        )

    return recall(session, ("training", person.id, course), load)


def training_problem(session: Session, *, person: Person, course: str, at: datetime) -> str | None:
    """None when the person holds valid ``course`` training at ``at``, else why not."""
    if valid_training(session, person=person, course=course, at=at) is not None:
        return None
    name = normalize_course(course)
    day = utc_day(at)
    rows = _records(session, person=person, course=name)
    head = f"{name} training of {person.email}"
    past = [r for r in rows if r.completed <= day and r.expires is not None]
    if past:
        last = max(r.expires for r in past if r.expires is not None)
        return f"{head} expired on {last.isoformat()}"
    if rows:
        first = min(r.completed for r in rows)
        return f"{head} not completed until {first.isoformat()}"
    return f"{head}: none on record"


def list_training(
    session: Session, *, person: Person | None = None, course: str | None = None
) -> list[TrainingRecord]:
    q = select(TrainingRecord).order_by(TrainingRecord.id)
    if person is not None:
        q = q.where(TrainingRecord.person_id == person.id)
    if course is not None:
        q = q.where(TrainingRecord.course == normalize_course(course))
    return list(session.scalars(q))


def training_view(record: TrainingRecord, *, at: datetime) -> TrainingOut:
    day = utc_day(at)
    return TrainingOut(
        id=record.id,
        person=record.person.email,
        organization=record.person.organization.name,
        course=record.course,
        completed=record.completed,
        expires=record.expires,
        valid_now=record.completed <= day and (record.expires is None or day <= record.expires),
        source=record.source,
    )


# -- CSV import ---------------------------------------------------------------------------
def read_training_csv(path: Path) -> tuple[str, bytes]:
    """(file name, bytes) of a training CSV, refusing missing, empty and oversized files."""
    name = path.name
    problem = file_problem(path)
    if problem is not None:
        raise InputError(problem, file=name)
    if path.stat().st_size > MAX_CSV_BYTES:
        raise InputError(f"file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB", file=name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=name) from None
    if not data.strip():
        raise InputError("file is empty", file=name)
    return name, data


def _decode(data: bytes, *, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"file is not UTF-8 text (line {line})", file=file) from None


def _date(value: str, *, file: str, row: int, column: str, line: int) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"not a date, expected YYYY-MM-DD (line {line})", file=file, row=row, column=column
        ) from None


def parse_training_csv(
    session: Session, *, file: str, data: bytes
) -> tuple[list[TrainingRow], int]:
    """Check every row (header ``email,course,completed,expires``); (rows, data rows read).

    The first bad row raises InputError naming file, row (1 = first data row), column and line;
    values are never shown. Nothing is stored here.
    """
    reader = csv.reader(io.StringIO(_decode(data, file=file), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InputError("file is empty", file=file)
        names = [h.strip().lower() for h in header]
        _check_header(names, file=file)
        persons = {p.email: p.id for p in session.scalars(select(Person))}
        today = utcnow().date()
        out: list[TrainingRow] = []
        count = 0
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            count += 1
            line = reader.line_num
            if len(fields) != len(names):
                raise InputError(
                    f"row has {len(fields)} fields, the header {len(names)} (line {line})",
                    file=file,
                    row=count,
                )
            out.append(
                _row(
                    dict(zip(names, (f.strip() for f in fields), strict=True)),
                    persons=persons,
                    today=today,
                    file=file,
                    row=count,
                    line=line,
                )
            )
    except csv.Error as exc:
        raise InputError(f"malformed CSV (line {reader.line_num}): {exc}", file=file) from None
    return out, count


def _check_header(names: Sequence[str], *, file: str) -> None:
    for i, name in enumerate(names, start=1):
        if name not in CSV_COLUMNS:
            raise InputError(  # the name is not shown: a missing header would show a value
                f"unknown column at position {i} of the header; expected {','.join(CSV_COLUMNS)}",
                file=file,
            )
        if names.count(name) > 1:
            raise InputError("duplicate column header", file=file, column=name)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise InputError("required column is missing from the header", file=file, column=name)


def _row(
    values: dict[str, str],
    *,
    persons: dict[str, int],
    today: date,
    file: str,
    row: int,
    line: int,
) -> TrainingRow:
    def bad(message: str, column: str) -> InputError:
        return InputError(f"{message} (line {line})", file=file, row=row, column=column)

    person_id = persons.get(values["email"].lower())
    if person_id is None:
        raise bad("unknown person: no account with this e-mail address", "email")
    try:
        course = normalize_course(values["course"])
    except Invalid as exc:
        raise bad(str(exc), "course") from None
    completed = _date(values["completed"], file=file, row=row, column="completed", line=line)
    raw_expires = values.get("expires", "")
    expires = (
        _date(raw_expires, file=file, row=row, column="expires", line=line) if raw_expires else None
    )
    problem = _check_dates(completed, expires, today=today)
    if problem is not None:
        column, message = problem.split(": ", 1)
        raise bad(message, column)
    return TrainingRow(row, person_id, course, completed, expires)


def store_training_rows(session: Session, *, rows: Sequence[TrainingRow], source: str) -> int:
    """Insert checked rows, skipping (person, course, completed) already stored or repeated;
    returns how many were inserted."""
    person_ids = sorted({r.person_id for r in rows})
    seen: set[tuple[int, str, date]] = set()
    for i in range(0, len(person_ids), 500):
        chunk = person_ids[i : i + 500]
        seen.update(
            (pid, course, done)
            for pid, course, done in session.execute(
                select(
                    TrainingRecord.person_id, TrainingRecord.course, TrainingRecord.completed
                ).where(TrainingRecord.person_id.in_(chunk))
            )
        )
    inserted = 0
    now = utcnow()
    for r in rows:
        key = (r.person_id, r.course, r.completed)
        if key in seen:
            continue
        seen.add(key)
        session.add(
            TrainingRecord(
                person_id=r.person_id,
                course=r.course,
                completed=r.completed,
                expires=r.expires,
                source=source,
                created_at=now,
            )
        )
        inserted += 1
    session.flush()
    return inserted
