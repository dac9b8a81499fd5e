"""Training records: validity on the day, the reasons given, and the all-or-nothing CSV import."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealvault.access import training as tr
from dealvault.access.governance_models import TrainingRecord
from dealvault.audit.models import AuditEvent
from dealvault.errors import Conflict, Forbidden, InputError, Invalid, NotFound
from dealvault.flows import admin
from dealvault.flows import agreements as flows
from dealvault.flows.context import AppStores
from tests.conftest import OP, TRAINER, P, World, acting_person

CLEAN = "clean@bidder-a.example"
HEADER = "email,course,completed,expires\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def people(stores: AppStores, world: World) -> World:
    admin.create_person(stores, actor=OP, email=CLEAN, name="王小明", organization="Bidder A")
    return world


def _count(stores: AppStores) -> int:
    """Training records made by the test (the world fixture trains its steward)."""
    with stores.records_session() as s:
        return int(s.scalar(select(func.count()).select_from(TrainingRecord)) or 0) - 1


def _events(stores: AppStores, prefix: str) -> list[tuple[str, str | None, str]]:
    with stores.records_session() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.seq)
        )
        events = [(e.action, e.decision, e.body.decode()) for e in rows]
        fixture = prefix.startswith("training") and "training.add".startswith(prefix)
        return events[1:] if fixture else events  # skip the world fixture's training.add


def _csv(tmp_path: Path, body: str, *, bom: bool = False, name: str = "training.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
    return path


def test_validity_is_inclusive_by_utc_day(stores: AppStores, people: World) -> None:
    t = flows.add_training(
        stores,
        actor=P(TRAINER),
        email=people.bidder_person,
        course="Confidentiality",
        completed=date(2026, 2, 1),
        expires=date(2027, 1, 31),
    )
    assert (t.course, t.person, t.organization, t.source) == (
        "confidentiality",
        people.bidder_person,
        "Bidder A",
        "manual",
    )
    eps = timedelta(microseconds=1)
    with stores.records_session() as s:
        analyst = acting_person(s, people.bidder_person)
        for at, ok in [
            (utc(2026, 2, 1) - eps, False),
            (utc(2026, 2, 1), True),
            (utc(2027, 1, 31, 23, 59, 59), True),
            (utc(2027, 2, 1) - eps, True),
            (utc(2027, 2, 1), False),
        ]:
            got = tr.valid_training(s, person=analyst, course="confidentiality", at=at)
            assert (got is not None) is ok, at
        assert (
            tr.training_problem(s, person=analyst, course="confidentiality", at=utc(2026, 6, 1))
            is None
        )
        assert tr.training_problem(
            s, person=analyst, course="confidentiality", at=utc(2027, 2, 1)
        ) == (f"confidentiality training of {people.bidder_person} expired on 2027-01-31")
        assert tr.training_problem(
            s, person=analyst, course="confidentiality", at=utc(2026, 1, 5)
        ) == (f"confidentiality training of {people.bidder_person} not completed until 2026-02-01")
        clean = acting_person(s, CLEAN)
        assert tr.training_problem(
            s, person=clean, course="confidentiality", at=utc(2026, 6, 1)
        ) == (f"confidentiality training of {CLEAN}: none on record")
        assert tr.valid_training(s, person=analyst, course="gdpr", at=utc(2026, 6, 1)) is None


def test_renewal_and_open_ended_records(stores: AppStores, people: World) -> None:
    for completed, expires in [(date(2025, 1, 10), date(2026, 1, 9)), (date(2026, 1, 5), None)]:
        flows.add_training(
            stores,
            actor=P(TRAINER),
            email=people.bidder_person,
            course="confidentiality",
            completed=completed,
            expires=expires,
        )
    with stores.records_session() as s:
        analyst = acting_person(s, people.bidder_person)
        got = tr.valid_training(s, person=analyst, course="confidentiality", at=utc(2026, 1, 7))
        assert got is not None and got.expires is None  # the longest-lasting one
        assert tr.valid_training(s, person=analyst, course="confidentiality", at=utc(2099, 1, 1))
    rows = flows.list_training(stores, actor=P(TRAINER), person=people.bidder_person)
    assert [r.valid_now for r in rows] == [False, True]


def test_add_checks(stores: AppStores, people: World) -> None:
    args = {"actor": P(TRAINER), "email": people.bidder_person, "course": "confidentiality"}
    flows.add_training(stores, **args, completed=date(2026, 3, 1))  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="already has this person, course and date"):
        flows.add_training(stores, **args, completed=date(2026, 3, 1))  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="expires: date is before completed"):
        flows.add_training(
            stores,
            **args,  # type: ignore[arg-type]
            completed=date(2026, 3, 2),
            expires=date(2026, 3, 1),
        )
    with pytest.raises(Invalid, match="completed: date is in the future"):
        flows.add_training(
            stores,
            **args,  # type: ignore[arg-type]
            completed=datetime.now(UTC).date() + timedelta(days=3),
        )
    with pytest.raises(Invalid, match="course must be"):
        flows.add_training(
            stores, actor=P(TRAINER), email=CLEAN, course=" ", completed=date(2026, 3, 1)
        )
    with pytest.raises(NotFound, match="person not found"):
        flows.add_training(
            stores,
            actor=P(TRAINER),
            email="x@y.example",
            course="c",
            completed=date(2026, 3, 1),
        )
    # only a training administrator records training: not a bidder, not a seller steward
    for who in (people.bidder_person, people.steward):
        with pytest.raises(
            Forbidden,
            match=r"training\.record needs one of the roles: training_admin \(held: none\)",
        ):
            flows.add_training(
                stores,
                actor=P(who),
                email=CLEAN,
                course="c",
                completed=date(2026, 3, 1),
            )
    # and never their own
    with pytest.raises(Forbidden, match=r"nobody may training\.record for themselves"):
        flows.add_training(
            stores, actor=P(TRAINER), email=TRAINER, course="c", completed=date(2026, 3, 1)
        )
    assert _count(stores) == 1
    events = _events(stores, "training.")
    assert [(a, d) for a, d, _ in events] == [
        ("training.add", "allow"),
        ("training.add", "deny"),
        ("training.add", "deny"),
        ("training.add", "deny"),
    ]
    assert "training.record needs one of the roles: training_admin (held: none)" in events[1][2]
    assert f'"actor":"{people.steward}"' in events[2][2]
    assert "nobody may training.record for themselves" in events[3][2]
    assert '"course":"confidentiality"' in events[0][2] and "王小明" not in events[0][2]


@pytest.mark.parametrize("bom", [False, True])
def test_import_counts_imported_and_skipped(
    stores: AppStores, people: World, tmp_path: Path, bom: bool
) -> None:
    flows.add_training(
        stores,
        actor=P(TRAINER),
        email=CLEAN,
        course="confidentiality",
        completed=date(2026, 1, 15),
    )
    body = (
        "Email, Course ,completed,expires\n"
        f"{people.bidder_person.upper()},confidentiality,2026-02-01,2027-01-31\n"
        f"{CLEAN},Confidentiality,2026-01-15,\n"  # already on record
        "\n"
        f"{people.bidder_person},confidentiality,2026-02-01,2027-01-31\n"  # repeated in the file
        f"{people.steward},gdpr basics,2025-12-01,\n"
    )
    got = flows.import_training(stores, actor=P(TRAINER), path=_csv(tmp_path, body, bom=bom))
    assert (got.file, got.rows, got.imported, got.skipped) == ("training.csv", 4, 2, 2)
    assert _count(stores) == 3
    again = flows.import_training(stores, actor=P(TRAINER), path=_csv(tmp_path, body, bom=bom))
    assert (again.imported, again.skipped) == (0, 4)
    rows = flows.list_training(stores, actor=P(TRAINER), course="gdpr basics")
    assert [(r.person, r.expires, r.source) for r in rows] == [
        (people.steward, None, "import training.csv")
    ]
    events = _events(stores, "training.import")
    assert len(events) == 2 and '"imported":2' in events[0][2] and '"skipped":2' in events[0][2]
    assert got.sha256 in events[0][2]
    for _, _, text_ in events:
        assert people.bidder_person not in text_ and CLEAN not in text_


def test_header_only_file_imports_nothing(stores: AppStores, people: World, tmp_path: Path) -> None:
    got = flows.import_training(
        stores, actor=P(TRAINER), path=_csv(tmp_path, "email,course,completed\n")
    )
    assert (got.rows, got.imported, got.skipped) == (0, 0, 0)


BAD_ROWS = [
    (
        "x@nowhere.example,confidentiality,2026-02-01,",
        "training.csv, row 2, column 'email': unknown person: no account with this e-mail "
        "address (line 3)",
    ),
    (
        "{analyst},confidentiality,01/02/2026,",
        "training.csv, row 2, column 'completed': not a date, expected YYYY-MM-DD (line 3)",
    ),
    (
        "{analyst},confidentiality,2026-02-01,2026-02-30",
        "training.csv, row 2, column 'expires': not a date, expected YYYY-MM-DD (line 3)",
    ),
    (
        "{analyst},confidentiality,2026-02-01,2026-01-31",
        "training.csv, row 2, column 'expires': date is before completed (line 3)",
    ),
    (
        "{analyst},confidentiality,2099-02-01,",
        "training.csv, row 2, column 'completed': date is in the future (line 3)",
    ),
    (
        "{analyst},,2026-02-01,",
        "training.csv, row 2, column 'course': course must be 1 to 120 printable characters "
        "(line 3)",
    ),
    (
        "{analyst},confidentiality,2026-02-01",
        "training.csv, row 2: row has 3 fields, the header 4 (line 3)",
    ),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_a_bad_row_rejects_the_whole_file(
    stores: AppStores, people: World, tmp_path: Path, row: str, message: str
) -> None:
    body = (
        HEADER
        + f"{CLEAN},confidentiality,2026-02-01,2027-01-31\n"
        + row.format(analyst=people.bidder_person)
        + "\n"
    )
    with pytest.raises(InputError) as info:
        flows.import_training(stores, actor=P(TRAINER), path=_csv(tmp_path, body))
    assert str(info.value) == message
    assert people.bidder_person not in str(info.value) and "2026-01-31" not in str(info.value)
    assert _count(stores) == 0
    assert _events(stores, "training.") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "training.csv: file is empty"),
        (b"email,course\n", "training.csv, column 'completed': required column is missing"),
        (b"email,course,completed,grade\n", "training.csv: unknown column at position 4"),
        (b"a@b.example,c,2026-01-01,\n", "training.csv: unknown column at position 1"),
        (b"email,course,completed,email\n", "training.csv, column 'email': duplicate column"),
        (
            HEADER.encode() + b"a@b.example,c\xff,2026-01-01,\n",
            r"training.csv: file is not UTF-8 text \(line 2\)",
        ),
        (
            HEADER.encode() + b'a@b.example,"c\n',
            r"training.csv: malformed CSV",
        ),
    ],
)
def test_bad_files(
    stores: AppStores, people: World, tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "training.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        flows.import_training(stores, actor=P(TRAINER), path=path)
    assert _count(stores) == 0


def test_import_needs_a_training_admin_and_an_existing_file(
    stores: AppStores, people: World, tmp_path: Path
) -> None:
    path = _csv(tmp_path, HEADER + f"{CLEAN},confidentiality,2026-02-01,\n")
    for who in (people.bidder_person, people.steward):  # a steward records no training either
        with pytest.raises(
            Forbidden,
            match=r"training\.record needs one of the roles: training_admin \(held: none\)",
        ):
            flows.import_training(stores, actor=P(who), path=path)
    # a file with a record of the importer is refused whole
    own = _csv(
        tmp_path,
        HEADER + f"{CLEAN},confidentiality,2026-02-01,\n{TRAINER},confidentiality,2026-02-01,\n",
        name="own.csv",
    )
    with pytest.raises(Forbidden, match=r"nobody may training\.record for themselves"):
        flows.import_training(stores, actor=P(TRAINER), path=own)
    with pytest.raises(InputError, match=r"missing\.csv: file not found"):
        flows.import_training(stores, actor=P(TRAINER), path=tmp_path / "missing.csv")
    assert _count(stores) == 0
    events = _events(stores, "training.")
    assert [(a, d) for a, d, _ in events] == [("training.import", "deny")] * 3
    assert '"row":2' in events[2][2] and "for themselves" in events[2][2]
