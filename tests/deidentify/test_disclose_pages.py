"""A page of a masked, pseudonymized or full view decrypts only its customers (and their
orders) and equals the same slice of the whole view, canary customers included, on every
page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent, AuditEventSubjects
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import Disclosure, DisclosureRequest, disclose
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from dealvault.vault import read
from tests.conftest import P, World

ROWS = 240


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    paths = write_export(
        out_dir=tmp_path / "export", rows=ROWS, seed=5, fmt="csv", tables=("customers", "orders")
    )
    for table in ("customers", "orders"):
        req = ImportRequest(
            actor=P(world.steward), deal=world.deal, dataset="crm", spec=SourceSpec(paths[table])
        )
        import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")


def _view(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    *,
    level: Level,
    window: tuple[int, int] | None,
    seed: int | None = 7,
) -> Disclosure:
    req = DisclosureRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        level=level,
        purpose="page test",
        recipient=None if level == Level.FULL else "Bidder A",
        seed=seed,
        window=window,
    )
    return disclose(stores, keyring, request=req)


@pytest.mark.parametrize("level", [Level.MASKED, Level.PSEUDONYMIZED, Level.FULL])
@pytest.mark.usefixtures("loaded")
def test_pages_equal_slices_of_the_whole_view(
    stores: AppStores, keyring: KeyRing, world: World, level: Level
) -> None:
    whole = _view(stores, keyring, world, level=level, window=None).frame
    extra = 0 if level == Level.FULL else 3  # the recipient's canaries ride along
    assert whole.height == ROWS + extra
    for offset, limit in [(0, 50), (37, 50), (ROWS - 10, 50), (ROWS + extra - 1, 5), (5, 1)]:
        page = _view(stores, keyring, world, level=level, window=(offset, limit))
        assert page.frame.equals(whole.slice(offset, limit)), (offset, limit)
        assert page.meta["report"]["rows_available"] == ROWS + extra
    beyond = _view(stores, keyring, world, level=level, window=(ROWS + 10, 50))
    assert beyond.frame.height == 0 and beyond.frame.columns == whole.columns


@pytest.mark.usefixtures("loaded")
def test_unseeded_pages_agree_on_the_canaries(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    """Without a test seed the canaries' positions are fixed per dataset and recipient: the
    pages tile the view, each customer once, the three canaries among them."""
    pages = [
        _view(stores, keyring, world, level=Level.MASKED, window=(o, 50), seed=None)
        for o in range(0, ROWS + 3, 50)
    ]
    tokens = pl.concat([p.frame.get_column("token") for p in pages])
    assert tokens.len() == ROWS + 3 and tokens.n_unique() == ROWS + 3
    assert sum(p.meta["report"]["canaries"] for p in pages) == 3
    again = _view(stores, keyring, world, level=Level.MASKED, window=(50, 50), seed=None)
    assert again.frame.equals(pages[1].frame)


@pytest.mark.usefixtures("loaded")
def test_a_page_decrypts_and_records_only_its_customers(
    stores: AppStores, keyring: KeyRing, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = read.open_rows

    def counting(layout: Any, rows: Sequence[Any], keys: Sequence[Any]) -> Any:
        opened.append(len(rows))
        return real_open(layout, rows, keys)

    monkeypatch.setattr(read, "open_rows", counting)
    page = _view(stores, keyring, world, level=Level.MASKED, window=(100, 20), seed=None)
    assert page.frame.height == 20
    report = page.meta["report"]
    real = report["customers"] - report["canaries"]
    # its customers, and when it holds canaries the few customers they draw values from
    # (at most one per drawn column group: three at masked)
    assert real <= 20 and report["offset"] == 100
    assert real <= sum(opened) <= real + 3 * report["canaries"]
    with stores.records_session() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        listed = s.get(AuditEventSubjects, last.seq)
        assert last.action == "disclose" and json.loads(last.body)["counts"]["rows"] == 20
        assert listed is not None and listed.count == report["customers"]
