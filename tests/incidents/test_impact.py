"""Impact analysis against disclosures made through the real flows: the customers whose data
reached the people or files involved in the incident's window, by category, sensitivity,
level and recipient; canaries apart; no personal value in the answer or the record."""

from __future__ import annotations

import json
import time

from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.flows import incidents
from dealvault.flows.context import AppStores
from tests.conftest import P
from tests.incidents.conftest import ROWS, SECURITY, Scene, release

CATEGORIES = {"contact": 12, "identity": 12, "preference": 12, "sensitive": 12}


def _personal_values() -> set[str]:
    return {v for row in ROWS for k, v in row.items() if v and k != "出生日期" and k != "偏好产品"}


def test_the_people_involved_reach_what_their_organisation_received(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    release(stores, keyring, scene.world, "Bidder A")
    release(stores, keyring, scene.world, "Bidder B")
    # the alert names Bidder A's analyst: what was released to Bidder A reached them
    inc = incidents.open_incident(stores, actor=P(SECURITY), title="t", alert_ids=[scene.alert])
    out = incidents.impact(stores, actor=P(SECURITY), incident_id=inc.id)
    assert (out.events, out.customers, out.canaries) == (1, 12, 3)
    assert out.subject_ids == scene.subjects
    assert out.by_category == CATEGORIES
    assert out.by_sensitivity == {"sensitive": 12, "general": 0}
    assert out.by_level == {"pseudonymized": 12}
    assert (out.minors, out.minors_at_most) == (0, 0)
    assert [(r.recipient, r.people, r.customers, r.events) for r in out.recipients] == [
        ("Bidder A", [scene.world.steward], 12, 1)
    ]
    shown = out.model_dump_json()
    assert not any(v in shown for v in _personal_values())
    recorded = [e for e in _bodies(stores) if e["action"] == "incident.impact"]
    assert recorded[0]["counts"] == {"events": 1, "customers": 12, "recipients": 1}
    assert not any(v in json.dumps(recorded, ensure_ascii=False) for v in _personal_values())


def test_a_file_involved_in_the_window_only(
    stores: AppStores, keyring: KeyRing, scene: Scene
) -> None:
    release(stores, keyring, scene.world, "Bidder A")  # before the incident's window
    time.sleep(0.01)
    since = utcnow()
    release(stores, keyring, scene.world, "Bidder B")
    inc = incidents.open_incident(stores, actor=P(SECURITY), deal=scene.world.deal, title="t",
                                  datasets=["crm"], since=since)  # fmt: skip
    out = incidents.impact(stores, actor=P(SECURITY), incident_id=inc.id)
    assert (out.events, out.customers) == (1, 12)
    assert [r.recipient for r in out.recipients] == ["Bidder B"]
    # a file not involved: nothing reached anyone through it
    other = incidents.open_incident(stores, actor=P(SECURITY), deal=scene.world.deal,
                                    title="t", datasets=["orders"], since=since)  # fmt: skip
    none = incidents.impact(stores, actor=P(SECURITY), incident_id=other.id)
    assert (none.events, none.customers, none.recipients, none.by_category) == (0, 0, [], {})


def _bodies(stores: AppStores) -> list[dict[str, object]]:
    from sqlalchemy import select

    from dealvault.audit.models import AuditEvent

    with stores.records_session() as s:
        return [json.loads(b) for b in s.scalars(select(AuditEvent.body))]


def test_a_release_names_its_categories_and_canaries_count_apart() -> None:
    """A transfer package carries its plan's categories (filled in from the plan): only those
    are counted; canary subjects are not customers."""
    import polars as pl

    from dealvault.incidents import impact

    events = pl.DataFrame(
        {
            "seq": [1, 2],
            "actor": ["s@x.example", "s@x.example"],
            "dataset": ["crm", "crm"],
            "recipient": ["Bidder A", None],
            "level": ["package", "masked"],
            "categories": ["identity,contact", None],
            "plan": [4, None],
        }
    )
    subjects = impact.subjects_frame(
        pl.Series("seq", [1, 2], dtype=pl.Int64), [b"a1\na2\ncanary-000001", b"a2\na3"]
    )
    cats = pl.DataFrame(
        {
            "dataset": ["crm"] * 3,
            "category": ["identity", "contact", "sensitive"],
            "sensitive": [False, False, True],
        }
    )
    out = impact.analyse(events, subjects, cats)
    assert (out["customers"], out["canaries"], out["subject_ids"]) == (3, 1, ["a1", "a2", "a3"])
    assert out["by_category"] == {"contact": 3, "identity": 3, "sensitive": 2}
    assert out["by_sensitivity"] == {"sensitive": 2, "general": 1}
    assert out["by_level"] == {"masked": 2, "package": 2}
    assert [(r.recipient, r.customers) for r in out["recipients"]] == [
        ("Bidder A", 2), ("s@x.example", 2)
    ]  # fmt: skip


def test_subject_codes_that_collide_fall_back_to_exact_codes() -> None:
    """Were two subject ids to share a hash, the second hash's count differs and the ids are
    coded exactly: the counts are those of the ids, not of the hashes."""
    import polars as pl

    from dealvault.incidents import impact

    pairs = pl.DataFrame(
        {"seq": [1, 1, 2, 2], "g": [0, 0, 0, 0], "subject": ["a1", "b2", "a1", "c3"]}
    )
    for code in (impact._hashed, lambda ids: ids.str.len_bytes().cast(pl.UInt64)):
        coded, ids = impact._coded(pairs, code=code)
        assert ids.to_list() == ["a1", "b2", "c3"]
        assert coded.get_column("h").n_unique() == 3
