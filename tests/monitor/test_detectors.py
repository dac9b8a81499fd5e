"""Each detector fires at its boundary and not just below it, on frames built by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tests.monitor.helpers import ANA, BOB, T0, context, days, ev, history, hits, rule

ROLES = pl.DataFrame({"deal": ["d1", "d1"], "actor": [ANA, BOB], "role": ["bidder_clean_team"] * 2})
#: ANA's records on ten earlier days: median 100, MAD 5 (scale 1.4826 x 5 = 7.413)
OWN = [100, 110, 90, 100, 105, 95, 100, 110, 90, 100]


def _days_of(actor: str, counts: list[int], first_seq: int = 1) -> list[dict[str, object]]:
    return [
        ev(first_seq + i, at, actor=actor, rows=n)
        for i, (at, n) in enumerate(zip(days(len(counts)), counts, strict=True))
    ]


def _volume(batch: list[dict[str, object]], past: list[dict[str, object]], **params: object):  # type: ignore[no-untyped-def]
    r = rule("volume", **{"z": 3.5, "min_records": 100, "min_days": 5, **params})
    ctx = context(1000, roles=ROLES, activity=history(past))
    return hits(r, batch, ctx)


@pytest.mark.parametrize(("rows", "fires"), [(126, True), (125, False)])
def test_volume_against_the_own_baseline(rows: int, fires: bool) -> None:
    # threshold: 100 + 3.5 x 7.413 = 125.95 records
    got = _volume([ev(1000, T0, rows=rows)], _days_of(ANA, OWN))
    assert (got.height == 1) is fires
    if fires:
        details = json.loads(got.get_column("details")[0])
        assert details["own_median"] == 100 and details["own_mad"] == 5
        assert details["own_n"] == 10 and details["z_role"] is None  # nobody else in the role
        text = got.get_column("explanation")[0]
        assert f"{ANA} viewed or exported 126 records in deal d1" in text
        assert "robust z 3.51" in text and "own baseline: median 100.0 a day over 10 days" in text


@pytest.mark.parametrize(("minimum", "fires"), [(126, True), (127, False)])
def test_volume_needs_the_minimum_of_records(minimum: int, fires: bool) -> None:
    got = _volume([ev(1000, T0, rows=126)], _days_of(ANA, OWN), min_records=minimum)
    assert (got.height == 1) is fires


@pytest.mark.parametrize(("rows", "fires"), [(126, True), (125, False)])
def test_a_newcomer_is_compared_with_the_role_alone(rows: int, fires: bool) -> None:
    got = _volume([ev(1000, T0, actor=BOB, rows=rows)], _days_of(ANA, OWN))
    assert (got.height == 1) is fires
    if fires:
        details = json.loads(got.get_column("details")[0])
        assert details["z_own"] is None and details["role_n"] == 10


def test_volume_far_above_the_own_baseline_but_not_the_roles_is_no_alert() -> None:
    past = _days_of(ANA, OWN) + _days_of(BOB, [1000] * 10, first_seq=100)
    assert _volume([ev(1000, T0, rows=500)], past).is_empty()
    assert _volume([ev(1000, T0, rows=1000)], _days_of(ANA, OWN)).height == 1


def test_volume_without_any_baseline_is_no_alert() -> None:
    assert _volume([ev(1000, T0, rows=10**6)], []).is_empty()


def test_volume_counts_the_day_so_far_event_by_event() -> None:
    batch = [ev(1000 + i, T0 + timedelta(minutes=i), rows=50) for i in range(4)]
    got = _volume(batch, _days_of(ANA, OWN))
    assert got.get_column("seq").to_list() == [1002, 1003]  # 150 and 200 records so far


def test_volume_ignores_aggregates_and_refusals() -> None:
    batch = [
        ev(1000, T0, rows=5000, level="aggregate"),
        ev(1001, T0, rows=5000, decision="deny"),
    ]
    assert _volume(batch, _days_of(ANA, OWN)).is_empty()


def _office_hours(per_day: int, n_days: int = 6) -> list[dict[str, object]]:
    """ANA at local 09:00 to 14:00 (one event an hour) on ``n_days`` earlier days."""
    return [
        ev(d * 10 + h, day + timedelta(hours=h), action="deal.read")
        for d, day in enumerate(days(n_days))
        for h in range(per_day)
    ]


@pytest.mark.parametrize(("hour", "fires"), [(16, True), (15, False), (7, True), (8, False)])
def test_unusual_hour_outside_the_usual_hours_and_their_margin(hour: int, fires: bool) -> None:
    r = rule("unusual_hour", min_events=30, min_days=5, margin_hours=1)
    at = T0 + timedelta(hours=hour - 9)
    got = hits(r, [ev(1000, at)], context(1000, activity=history(_office_hours(6))))
    assert (got.height == 1) is fires
    if fires:
        assert f"{hour:02d}:00-{hour:02d}:59 local" in got.get_column("explanation")[0]


@pytest.mark.parametrize(("per_day", "fires"), [(5, True), (4, False)])
def test_unusual_hour_needs_enough_history(per_day: int, fires: bool) -> None:
    r = rule("unusual_hour", min_events=30, min_days=5, margin_hours=1)
    at = T0 + timedelta(hours=12)  # 21:00 local
    got = hits(r, [ev(1000, at)], context(1000, activity=history(_office_hours(per_day))))
    assert (got.height == 1) is fires  # 6 days x 5 = 30 events; x 4 = 24


def test_new_address_once_the_person_has_one() -> None:
    known = pl.DataFrame({"actor": [ANA], "client": ["10.0.0.1"], "first_seq": [1]})
    batch = [
        ev(1000, T0, client="10.0.0.1"),
        ev(1001, T0, client="10.0.0.2"),
        ev(1002, T0, client="10.0.0.2"),
        ev(1003, T0, actor=BOB, client="10.9.0.1"),  # BOB's first address ever
        ev(1004, T0, actor=BOB, client="10.9.0.2"),
    ]
    got = hits(rule("new_address"), batch, context(1000, clients=known))
    assert got.select("seq", "subject").rows() == [(1001, ANA), (1004, BOB)]
    assert "10.0.0.2" in got.get_column("explanation")[0]


@pytest.mark.parametrize(("min_known", "fired"), [(1, [1001, 1003]), (2, [1003]), (3, [])])
def test_new_device_once_the_person_has_min_known(min_known: int, fired: list[int]) -> None:
    """ANA knows one device; the batch brings two new ones (each used twice)."""
    known = pl.DataFrame({"actor": [ANA], "device": ["dev:aaaa"], "first_seq": [1]})
    batch = [
        ev(1000, T0, device="dev:aaaa"),
        ev(1001, T0, device="dev:bbbb"),
        ev(1002, T0, device="dev:bbbb"),  # the same new device again: no second hit
        ev(1003, T0, device="tok:tok_1"),
        ev(1004, T0, device="tok:tok_1"),
        ev(1005, T0, client="10.0.0.9"),  # no device (the local CLI, an old event)
    ]
    got = hits(rule("new_device", min_known=min_known), batch, context(1000, devices=known))
    assert got.get_column("seq").to_list() == fired
    if fired:
        assert set(got.get_column("subject")) == {ANA}
        device = {1001: "dev:bbbb", 1003: "tok:tok_1"}[fired[0]]
        assert f"acted from the device {device}" in got.get_column("explanation")[0]
        assert json.loads(got.get_column("details")[0])["known"] == min_known


def test_new_device_everyone_has_a_first_one() -> None:
    batch = [ev(1000, T0, actor=BOB, device="dev:cccc"), ev(1001, T0, actor=BOB, device="dev:cccc")]
    assert hits(rule("new_device"), batch, context(1000)).is_empty()
    known = pl.DataFrame({"actor": [BOB], "device": ["dev:cccc"], "first_seq": [1]})
    assert hits(rule("new_device"), batch, context(1000, devices=known)).is_empty()


@pytest.mark.parametrize(("gap", "fires"), [(599, True), (600, False)])
def test_two_addresses_within_minutes(gap: int, fires: bool) -> None:
    batch = [
        ev(1000, T0, client="10.0.0.1"),
        ev(1001, T0 + timedelta(seconds=gap), client="10.0.0.2"),
        ev(1002, T0 + timedelta(seconds=gap), actor=BOB, client="10.0.0.1"),
    ]
    got = hits(rule("two_addresses", minutes=10), batch, context(1000))
    assert got.get_column("seq").to_list() == ([1001] if fires else [])


def _denials(offsets: list[float], reason: str = "no policy permits it") -> list[dict[str, object]]:
    return [
        ev(1000 + i, T0 + timedelta(minutes=m), decision="deny", reasons=[reason])
        for i, m in enumerate(offsets)
    ]


@pytest.mark.parametrize(
    ("offsets", "fired"),
    [
        ([0, 2, 4, 6, 9.99], [1004]),  # five within ten minutes: the fifth fires
        ([0, 2, 4, 6], []),  # four
        ([0, 2.5, 5, 7.5, 10], []),  # the first is exactly ten minutes before the fifth
    ],
)
def test_repeated_denials(offsets: list[float], fired: list[int]) -> None:
    got = hits(rule("denials", count=5, minutes=10), _denials(offsets), context(1000))
    assert got.get_column("seq").to_list() == fired


def test_denials_before_the_batch_count_but_only_the_batch_fires() -> None:
    rows = _denials([0, 1, 2, 3, 4, 5])
    got = hits(rule("denials", count=5, minutes=10), rows, context(1005))
    assert got.get_column("seq").to_list() == [1005]
    assert "refusals: 6 within 10 minutes" in got.get_column("explanation")[0]


# reasons as the decision point writes them (access.policy, access.grant_use, .agreements)
ABOVE = [
    "level masked is above the ceiling anonymized for bidder_clean_team at stage due_diligence",
    "category sensitive is capped at anonymized for bidder_clean_team; masked asked "
    "[cap.sensitive]",
    "no approved grant for masked of contact in crm (grants: 1 in force not covering it: "
    "anonymized of contact)",
    "row cap of grant 3 is used up (200 of 200 rows)",
]
FROZEN = [
    "deal d1 is frozen (temporary isolation)",
    "the deal is frozen: every read is stopped [frozen]",
]
LAPSED = [
    "no NDA of Bidder A in force covering contact of dataset crm on 2026-03-02 (agreement #3 "
    "expired on 2026-02-28)",
    "no NDA of Bidder A in force covering contact of dataset crm on 2026-03-02 (agreement #3 "
    "was revoked at 2026-03-01T10:00:00+00:00)",
    "no approved grant for masked in crm (grants: 1 expired 2026-02-20)",
    "no approved grant for masked in crm (grants: 2 revoked)",
]
OTHER = [
    "confidentiality training of analyst@bidder-a.example: none on record",
    "no approved grant for masked of contact in crm (no grants)",
    "no NDA of Bidder A in force covering contact of dataset crm on 2026-03-02 (agreement #3 "
    "takes effect on 2026-04-01)",
]


@pytest.mark.parametrize(
    ("kind", "fire", "quiet"),
    [
        ("above_grant", ABOVE, OTHER + FROZEN + LAPSED[:2]),
        ("frozen_attempt", FROZEN, OTHER + ABOVE + LAPSED),
        ("agreement_lapsed", LAPSED, OTHER + ABOVE + FROZEN),
    ],
)
def test_refusals_by_their_reasons(kind: str, fire: list[str], quiet: list[str]) -> None:
    r = rule(kind, count=1, minutes=60)
    for reason in fire:
        assert hits(r, _denials([0], reason), context(1000)).height == 1, reason
        allowed = [ev(1000, T0, reasons=[reason])]
        assert hits(r, allowed, context(1000)).is_empty(), reason
    for reason in quiet:
        assert hits(r, _denials([0], reason), context(1000)).is_empty(), reason


@pytest.mark.parametrize(("count", "fires"), [(3, True), (4, False)])
def test_downloads_in_a_short_time(count: int, fires: bool) -> None:
    batch = [
        ev(1000, T0, rows=10),
        ev(1001, T0 + timedelta(minutes=3), action="package.fetch", level=None),
        ev(1002, T0 + timedelta(minutes=4), rows=50, offset=50),  # a page of a view
        ev(1003, T0 + timedelta(minutes=9), rows=10),
        ev(1004, T0 + timedelta(minutes=9), rows=10, decision="deny"),
    ]
    got = hits(rule("downloads", count=count, minutes=10), batch, context(1000))
    assert got.get_column("seq").to_list() == ([1003] if fires else [])


GRANTS = pl.DataFrame(
    {"grant": [7], "row_cap": [100], "granted_at": [T0]},
    schema={"grant": pl.Int64, "row_cap": pl.Int64, "granted_at": pl.Datetime("us", "UTC")},
)


@pytest.mark.parametrize(
    ("rows", "after", "fires"),
    [(40, 23, True), (39, 23, False), (40, 24, True), (40, 24.01, False)],
)
def test_row_cap_nearly_used_up_quickly(rows: int, after: float, fires: bool) -> None:
    at = T0 + timedelta(hours=after)
    batch = [ev(1000, at, grant=7, rows_left_before=50, rows=rows)]  # 50 + rows used of 100
    got = hits(rule("row_cap", share=0.9, hours=24), batch, context(1000, grants=GRANTS))
    assert (got.height == 1) is fires
    if fires:
        assert got.get_column("subject")[0] == "grant #7"
        assert "has used 90 of the 100 rows of grant #7" in got.get_column("explanation")[0]


SATURDAY_2AM = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)  # Saturday 7 March, 02:00 local


@pytest.mark.parametrize(
    ("at", "fires"),
    [
        (SATURDAY_2AM, False),
        (SATURDAY_2AM + timedelta(hours=3, minutes=59), False),
        (SATURDAY_2AM + timedelta(hours=4), True),  # 06:00: the window has closed
        (SATURDAY_2AM - timedelta(minutes=1), True),
        (T0 - timedelta(hours=6), True),  # Monday 03:00 local
    ],
)
def test_key_operations_outside_the_change_window(at: datetime, fires: bool) -> None:
    r = rule("key_window", days=["sat", "sun"], start="02:00", end="06:00")
    batch = [
        ev(1000, at, action="keys.rotate_master", deal=None),
        ev(1001, at, action="keys.rotate_master", deal=None, decision="deny"),
        ev(1002, at, action="deal.read"),
    ]
    got = hits(r, batch, context(1000))
    assert got.get_column("seq").to_list() == ([1000] if fires else [])
