"""A released aggregate asked for again is not computed again from every decrypted customer,
yet every request is decided and recorded on its own; any change to what the dataset holds
(an opt-out, a new import, a classification override) or to the question makes a new one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dealvault.audit.store import LogFilter, query
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.errors import Invalid
from dealvault.flows import aggregate_cache, customers
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from dealvault.vault import read
from tests.conftest import P, World

ROWS = 120


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> None:
    aggregate_cache.forget()
    paths = write_export(out_dir=tmp_path / "export", rows=ROWS, seed=9, fmt="csv")
    req = ImportRequest(
        actor=P(world.steward), deal=world.deal, dataset="crm", spec=SourceSpec(paths["customers"])
    )
    import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many customers each decryption opened."""
    counts: list[int] = []
    real = read.open_rows

    def counting(layout: Any, rows: Sequence[Any], keys: Sequence[Any]) -> Any:
        counts.append(len(rows))
        return real(layout, rows, keys)

    monkeypatch.setattr(read, "open_rows", counting)
    return counts


def _aggregate(
    stores: AppStores, keyring: KeyRing, world: World, *, by: str = "gender", k_min: int = 5
) -> pl.DataFrame:
    req = DisclosureRequest(
        actor=P(world.steward), deal=world.deal, dataset="crm", level=Level.AGGREGATE,
        purpose="cache test", group_by=[by], k_min=k_min, k=k_min, recipient="Bidder A",
    )  # fmt: skip
    return disclose(stores, keyring, request=req).frame


def _disclosures(stores: AppStores) -> int:
    with stores.records_session() as s:
        return len(query(s, flt=LogFilter(action="disclose", limit=10_000)))


@pytest.mark.usefixtures("loaded")
def test_the_same_question_is_answered_from_the_kept_release(
    stores: AppStores, keyring: KeyRing, world: World, opened: list[int]
) -> None:
    first = _aggregate(stores, keyring, world)
    decrypted = sum(opened)
    assert decrypted >= ROWS
    before = _disclosures(stores)
    again = _aggregate(stores, keyring, world)
    assert again.equals(first)
    assert sum(opened) == decrypted  # nothing decrypted the second time
    assert _disclosures(stores) == before + 1  # but recorded, as every request is
    other = _aggregate(stores, keyring, world, k_min=6)  # another question: computed
    assert sum(opened) > decrypted
    del other


@pytest.mark.usefixtures("loaded")
def test_an_opt_out_makes_a_new_release(
    stores: AppStores, keyring: KeyRing, world: World, opened: list[int]
) -> None:
    first = _aggregate(stores, keyring, world)
    subject = str(
        disclose(stores, keyring, request=DisclosureRequest(
            actor=P(world.steward), deal=world.deal, dataset="crm", level=Level.FULL,
            purpose="find one", window=(0, 1),
        )).frame.get_column("subject_id")[0]
    )  # fmt: skip
    customers.set_status(
        stores, actor=P(world.steward), deal=world.deal, dataset="crm", subject_id=subject,
        status="opted_out", reason="asked us to",
    )  # fmt: skip
    after = _aggregate(stores, keyring, world)
    total = lambda f: int(f.filter(pl.col("gender") == "(all)")["count"][0])  # noqa: E731
    assert total(after) == total(first) - 1


@pytest.mark.usefixtures("loaded")
def test_a_new_import_makes_a_new_release(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    first = _aggregate(stores, keyring, world)
    more = write_export(out_dir=tmp_path / "more", rows=30, seed=77, fmt="csv")
    import_source(
        stores, keyring,
        request=ImportRequest(actor=P(world.steward), deal=world.deal, dataset="crm",
                              spec=SourceSpec(more["customers"])),
        rejects_dir=tmp_path / "rejects2",
    )  # fmt: skip
    after = _aggregate(stores, keyring, world)
    assert not after.equals(first)


@pytest.mark.usefixtures("loaded")
def test_a_refused_question_stays_refused(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    for _ in range(2):
        with pytest.raises(Invalid):
            _aggregate(stores, keyring, world, by="phone")
