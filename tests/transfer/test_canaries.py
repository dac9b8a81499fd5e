"""Canary customers: made once per recipient and dataset, plausible, planted, found again."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from dealvault.access import service as access
from dealvault.access.models import Deal
from dealvault.config import Settings
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.deidentify.derive import add_derived
from dealvault.deidentify.levels import column_types, full_view, masked_view, pseudonymized_view
from dealvault.deidentify.tokens import make_tokens, token_key
from dealvault.errors import IntegrityError, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.fields import TableRole
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.idnumbers import is_mainland_mobile, ric_check_digit
from dealvault.synth.writers import write_export
from dealvault.transfer.canaries import (
    FRAME_COLUMNS,
    SUBJECT_PREFIX,
    CanaryRecord,
    add_canaries,
    canaries_for,
    load_canaries,
)
from dealvault.transfer.canary_seal import CanaryKeys, canary_keys
from dealvault.transfer.canary_search import find_canaries
from dealvault.transfer.models import Canary
from dealvault.vault import service as vault
from dealvault.vault.read import disclose_table
from tests.conftest import P, World, acting_person

ROWS = 120


@dataclass(frozen=True)
class Loaded:
    """A deal's imported dataset and what the tests need to build recipients' copies."""

    deal_id: int
    dataset_id: int
    customers: pl.DataFrame  # as vault.read.disclose_table returns it (record_id, subject_id, …)


def load_dataset(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path, *, rows: int = ROWS
) -> Loaded:
    """Import an invented customer export into dataset 'crm' and read it back as the steward."""
    paths = write_export(out_dir=tmp_path / "export", rows=rows, seed=5, fmt="csv")
    req = ImportRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        spec=SourceSpec(path=paths["customers"]),
    )
    import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")
    with stores.unit_of_work() as uow:
        deal = access.get_deal(uow.records, code=world.deal)
        ds = vault.get_dataset(uow.records, deal=deal, name="crm")
        frame = disclose_table(
            uow,
            keyring,
            actor=acting_person(uow.records, world.steward),
            deal=deal,
            dataset=ds,
            role=TableRole.CUSTOMERS,
            purpose="test",
            level="full",
        )
        return Loaded(deal_id=deal.id, dataset_id=ds.id, customers=frame)


@dataclass(frozen=True)
class Copy:
    """A recipient's released frame and which of its rows are canaries."""

    frame: pl.DataFrame
    canary: pl.Series  # Boolean, one per row


def recipient_copy(
    stores: AppStores,
    keyring: KeyRing,
    loaded: Loaded,
    *,
    recipient: str,
    level: str,
    settings: Settings | None = None,
    seed: int = 1,
) -> Copy:
    """What the disclose flow releases to ``recipient``: the customers plus its canaries, at
    ``level`` (full, masked or pseudonymized), keyed by the recipient's tokens."""
    with stores.unit_of_work() as uow:
        deal = uow.records.get(Deal, loaded.deal_id)
        assert deal is not None
        org = access.get_organization(uow.records, name=recipient)
        canaries = canaries_for(
            uow.records,
            keys=canary_keys(keyring, uow.keys),
            deal=deal,
            dataset_id=loaded.dataset_id,
            recipient=org,
            settings=settings or Settings(),
        )
        index_key = keyring.dataset_key(
            uow.keys, dataset_id=loaded.dataset_id, purpose=INDEX, version=1
        )
        org_id = org.id
    frame = add_canaries(loaded.customers, canaries=canaries, seed=seed)
    canary = frame.get_column("subject_id").str.starts_with(SUBJECT_PREFIX)
    if level == "full":
        return Copy(full_view(frame), canary)
    if level == "pseudonymized":
        frame = add_derived(frame, on=date(2026, 1, 1))
    tokens = make_tokens(
        token_key(index_key, recipient_id=org_id),
        dataset_id=loaded.dataset_id,
        record_ids=frame.get_column("record_id"),
    )
    types = column_types(frame.columns, stored={})
    view = masked_view if level == "masked" else pseudonymized_view
    return Copy(view(frame, types=types, tokens=tokens), canary)


def open_canaries(stores: AppStores, keyring: KeyRing, deal_id: int) -> list[CanaryRecord]:
    """Every canary of the deal, opened with the store's canary key (as ``trace`` does)."""
    with stores.unit_of_work() as uow:
        keys = CanaryKeys.of(keyring, uow.keys, create=False)
        return load_canaries(uow.records, keys=keys, deal_ids=[deal_id])


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> Loaded:
    return load_dataset(stores, keyring, world, tmp_path)


def _canaries(
    stores: AppStores, keyring: KeyRing, loaded: Loaded, recipient: str, **kw: object
) -> pl.DataFrame:
    with stores.unit_of_work() as uow:
        deal = uow.records.get(Deal, loaded.deal_id)
        assert deal is not None
        org = access.get_organization(uow.records, name=recipient)
        return canaries_for(
            uow.records,
            keys=canary_keys(keyring, uow.keys),
            deal=deal,
            dataset_id=loaded.dataset_id,
            recipient=org,
            settings=kw.pop("settings", Settings()),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )


def test_canaries_are_plausible_customers(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    frame = _canaries(stores, keyring, loaded, "Bidder A")
    assert frame.columns == list(FRAME_COLUMNS)
    assert frame.height == 3
    # the customer columns of the vault's read path, same names and all text
    shared = [c for c in FRAME_COLUMNS if c in loaded.customers.columns]
    assert {"name", "phone", "email", "id_number", "birth_date", "address"} <= set(shared)
    for col in shared:
        assert frame.schema[col] == loaded.customers.schema[col], col
    settings = Settings()
    for row in frame.iter_rows(named=True):
        assert row["record_id"] < 0
        assert row["subject_id"].startswith(SUBJECT_PREFIX)
        ric = row["id_number"]
        assert len(ric) == 18 and ric[17] == ric_check_digit(ric[:17])
        assert ric[6:14] == row["birth_date"].replace("-", "")
        assert int(ric[16]) % 2 == (1 if row["gender"] == "M" else 0)
        assert row["phone"].startswith("+86") and is_mainland_mobile(row["phone"])
        assert row["phone"][3:] in settings.canary_phones
        assert row["email"].endswith("@" + settings.canary_email_domain)
        assert re.fullmatch(r"[a-z.]{3,}\d{9}@canary\.invalid", row["email"])
        assert 2 <= len(row["name"]) <= 4 and row["address"]
        assert row["birth_date"] <= "2007-06-30"  # adults only: no minors' rules triggered
    # phones differ between canaries: a phone names one canary, so one recipient
    assert frame.get_column("phone").n_unique() == 3


def test_same_recipient_gets_the_same_canaries(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    a1 = _canaries(stores, keyring, loaded, "Bidder A")
    a2 = _canaries(stores, keyring, loaded, "Bidder A")
    b = _canaries(stores, keyring, loaded, "Bidder B")
    assert a1.equals(a2)
    assert not set(a1.get_column("email")) & set(b.get_column("email"))
    assert not set(a1.get_column("phone")) & set(b.get_column("phone"))
    assert _canaries(stores, keyring, loaded, "Bidder A", count=5).head(3).equals(a1)
    assert len(open_canaries(stores, keyring, loaded.deal_id)) == 8


def test_short_phone_list_gives_recipient_specific_suffixes(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    settings = Settings(canary_phones=["17000990101", "17100990102"])
    a = _canaries(stores, keyring, loaded, "Bidder A", settings=settings, count=3)
    b = _canaries(stores, keyring, loaded, "Bidder B", settings=settings, count=3)
    phones = [*a.get_column("phone"), *b.get_column("phone")]
    assert len(set(phones)) == 6
    for p in phones:
        assert re.fullmatch(r"\+861[67]\d{9}", p) and is_mainland_mobile(p)
        assert p[3:10] in ("1700099", "1710099")  # the seller's number blocks


def test_bad_settings_are_refused_without_values(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    with pytest.raises(Invalid) as err:
        _canaries(stores, keyring, loaded, "Bidder A", settings=Settings(canary_phones=["12345"]))
    assert "12345" not in str(err.value) and "#1" in str(err.value)
    with pytest.raises(Invalid):
        _canaries(stores, keyring, loaded, "Bidder A", settings=Settings(canary_phones=[]))
    with pytest.raises(Invalid):
        bad = Settings(canary_email_domain="not a domain")
        _canaries(stores, keyring, loaded, "Bidder A", settings=bad)
    with pytest.raises(Invalid):
        _canaries(stores, keyring, loaded, "Bidder A", count=-1)


def test_a_canary_that_no_longer_rebuilds_is_not_planted(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    _canaries(stores, keyring, loaded, "Bidder A", count=1)
    with stores.unit_of_work() as uow:
        keys = canary_keys(keyring, uow.keys)
        row = uow.records.scalars(select(Canary)).one()
        ident = keys.open(row)
        keys.seal(row, replace(ident, fingerprint="0" * 64))
    with pytest.raises(IntegrityError, match="no longer rebuilds"):
        _canaries(stores, keyring, loaded, "Bidder A", count=1)
    (rec,) = open_canaries(stores, keyring, loaded.deal_id)
    assert not rec.rebuilt and rec.id_number is None and rec.email == ident.email


def test_add_canaries_keeps_rows_and_aligns_columns() -> None:
    frame = pl.DataFrame(
        {
            "record_id": [1, 2, 3, 4],
            "subject_id": ["a", "b", "c", "d"],
            "name": ["甲", "乙", "丙", "丁"],
            "extra": [1.5, 2.5, 3.5, 4.5],
        }
    )
    canaries = pl.DataFrame(
        {
            "record_id": [-1, -2],
            "subject_id": ["canary-000001", "canary-000002"],
            "name": ["x", "y"],
            "email": ["x@c.invalid", "y@c.invalid"],
        }
    )
    out = add_canaries(frame, canaries=canaries, seed=7)
    assert out.columns == frame.columns and out.schema == frame.schema
    assert out.height == 6
    real = out.filter(pl.col("record_id") > 0)
    assert real.equals(frame)  # the real rows keep their order
    planted = out.filter(pl.col("record_id") < 0)
    assert planted.get_column("extra").is_null().all()
    assert out.equals(add_canaries(frame, canaries=canaries, seed=7))
    positions = {
        tuple(add_canaries(frame, canaries=canaries, seed=s)["record_id"]) for s in range(20)
    }
    assert len(positions) > 3  # random positions, not appended at the end
    assert add_canaries(frame, canaries=canaries.head(0)).equals(frame)


def test_find_canaries_in_clear_and_masked_copies(
    stores: AppStores, keyring: KeyRing, loaded: Loaded
) -> None:
    full = recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="full").frame
    masked = recipient_copy(stores, keyring, loaded, recipient="Bidder A", level="masked").frame
    records = open_canaries(stores, keyring, loaded.deal_id)

    found = find_canaries([full], records)
    by_rule = found.group_by("rule").len().sort("rule")
    assert dict(by_rule.iter_rows()) == {
        "email": 3, "id_number": 3, "name_birth": 3, "phone": 3,
    }  # fmt: skip
    found = find_canaries([masked.drop("token")], records)
    assert found.get_column("rule").to_list() == ["masked"] * 3
    # the real customers are never taken for canaries
    real = full.filter(~pl.col("subject_id").str.starts_with(SUBJECT_PREFIX))
    assert find_canaries([real], records).height == 0
