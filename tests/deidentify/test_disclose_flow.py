"""The disclose use case end to end: decrypt, de-identify per level, write, audit."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from dealvault.access.principal import Principal
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.deidentify.writers import read_disclosure, read_disclosure_meta, write_disclosure
from dealvault.errors import Forbidden, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import Disclosure, DisclosureRequest, disclose
from dealvault.flows.disclosure import resolve_recipient_tokens as resolve_tokens
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.fields import TableRole
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from tests.conftest import P, World

ROWS = 1_500


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def loaded(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> dict[str, Path]:
    paths = write_export(out_dir=tmp_path / "export", rows=ROWS, seed=11, fmt="csv")
    for table in ("customers", "orders", "notes"):
        req = ImportRequest(
            actor=P(world.steward),
            deal=world.deal,
            dataset="crm",
            spec=SourceSpec(path=paths[table]),
        )
        import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")
    return paths


def _disclose(stores: AppStores, keyring: KeyRing, world: World, **kw: object) -> Disclosure:
    actor = kw.pop("actor", None) or P(world.steward)
    assert isinstance(actor, Principal)
    req = DisclosureRequest(
        actor=actor,
        deal=world.deal,
        dataset="crm",
        purpose="valuation test",
        seed=3,
        **kw,  # type: ignore[arg-type]
    )
    return disclose(stores, keyring, request=req)


def _source_values(paths: dict[str, Path], column: str) -> set[str]:
    frame = pl.read_csv(paths["customers"], infer_schema=False)
    return {v for v in frame.get_column(column).to_list() if v}


def _all_text(frame: pl.DataFrame) -> set[str]:
    out: set[str] = set()
    for col in frame.columns:
        out.update(str(v) for v in frame.get_column(col).to_list() if v is not None)
    return out


def test_masked_level_masks_every_identifier(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    got = _disclose(stores, keyring, world, level=Level.MASKED, recipient="Bidder A")
    frame = got.frame
    assert got.meta["report"]["canaries"] == 3
    assert frame.height == ROWS + 3  # the recipient's canary customers ride along
    assert frame.columns[0] == "token"
    assert "subject_id" not in frame.columns and "record_id" not in frame.columns
    assert "customer_key" not in frame.columns
    released = _all_text(frame)
    for column in ("手机号", "身份证号", "邮箱", "姓名"):
        assert not (_source_values(loaded, column) & released), column
    phones = frame.get_column("phone").drop_nulls()
    assert phones.str.contains(r"^\d{3}\*{4}\d{4}$").all()
    # what an attacker holding the customer list can do, measured on the released rows
    linkage = got.meta["report"]["linkage"]
    assert {"phone", "id_number", "name", "email"} <= set(linkage["columns"])
    phone_unique = frame.select(pl.col("phone").is_unique() & pl.col("phone").is_not_null())
    assert linkage["unique_share"]["phone"] == pytest.approx(
        phone_unique.to_series().mean(), abs=1e-4
    )
    assert linkage["unique_share_any"] >= 0.9  # masked phones and IDs stay nearly unique
    assert f"{linkage['unique_share_any']:.0%} of these rows" in linkage["statement"]
    assert "row cap of the grant is the main protection" in linkage["statement"]
    assert not (_source_values(loaded, "手机号") & set(linkage["statement"].split()))


def test_pseudonymized_tokens_differ_per_recipient_and_resolve(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    a1 = _disclose(stores, keyring, world, level=Level.PSEUDONYMIZED, recipient="Bidder A")
    a2 = _disclose(stores, keyring, world, level=Level.PSEUDONYMIZED, recipient="Bidder A")
    b = _disclose(stores, keyring, world, level=Level.PSEUDONYMIZED, recipient="Bidder B")
    for direct in ("name", "phone", "id_number", "email", "customer_key", "birth_date", "address"):
        assert direct not in a1.frame.columns
    assert {"token", "age", "gender", "city"} <= set(a1.frame.columns)
    ta, tb = a1.frame.get_column("token"), b.frame.get_column("token")
    assert ta.to_list() == a2.frame.get_column("token").to_list()
    assert not set(ta.to_list()) & set(tb.to_list())
    assert a1.meta["report"]["dropped_direct_identifiers"]
    # the seller maps A's tokens back; B's key does not open A's tokens
    sample = ta.head(5).to_list()
    matches = resolve_tokens(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        recipient="Bidder A",
        tokens=sample,
        purpose="leak check",
    )
    assert all(m.subject_id for m in matches)
    wrong = resolve_tokens(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        recipient="Bidder B",
        tokens=sample,
        purpose="leak check",
    )
    assert all(m.subject_id is None for m in wrong)


def test_anonymized_level_reaches_k(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    got = _disclose(stores, keyring, world, level=Level.ANONYMIZED, recipient="Bidder A", k=10)
    frame = got.frame
    qis = ["age", "gender", "region_code"]
    assert set(qis) <= set(frame.columns)
    sizes = frame.group_by(qis).len().get_column("len")
    assert sizes.min() >= 10
    assert got.meta["report"]["k_achieved"] >= 10
    assert not ({"name", "phone", "id_number", "token"} & set(frame.columns))


def test_anonymized_risk_counts_kept_columns_and_canaries_are_stated(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path], tmp_path: Path
) -> None:
    reason = "purchase frequency is the seller's own estimate, not known outside"
    got = _disclose(
        stores,
        keyring,
        world,
        level=Level.ANONYMIZED,
        recipient="Bidder A",
        k=10,
        keep=["purchase_frequency", "order_count:range=5"],
        non_identifying={"purchase_frequency": reason},
    )
    report = got.meta["report"]
    # three canaries ride along; they are in the file and counted apart from the customers
    assert report["canaries"] == got.meta["canary_rows"] == 3
    assert got.frame.height == report["rows_out"] == ROWS + 3
    assert report["risk_columns"] == ["age", "gender", "region_code", "order_count"]
    assert report["non_identifying"] == {"purchase_frequency": reason}
    assert got.meta["parameters"]["non_identifying"] == {"purchase_frequency": reason}
    after, qi_only = report["risk_after"], report["risk_after_quasi_identifiers"]
    assert after["unique_share"] >= qi_only["unique_share"]
    assert after["prosecutor_max"] >= qi_only["prosecutor_max"]
    assert got.frame.get_column("order_count").str.starts_with("[").all()
    # the statement is in the file's metadata
    path = tmp_path / "anon.csv"
    write_disclosure(got.frame, path=path, fmt="csv", meta=got.meta)
    assert read_disclosure_meta(path)["report"]["non_identifying"] == {"purchase_frequency": reason}


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        ("order_count", "'order_count': numeric values"),
        ("total_amount", "'total_amount': numeric values"),
        ("last_order", "'last_order': date values"),
        ("total_amount:range=1", "'total_amount': .* distinct released values"),
        ("favourite_product", "'favourite_product': .* distinct released values"),
    ],
)
def test_anonymized_keep_of_many_values_is_refused(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    loaded: dict[str, Path],
    keep: str,
    message: str,
) -> None:
    with pytest.raises(Invalid, match=message) as err:
        _disclose(stores, keyring, world, level=Level.ANONYMIZED, recipient="Bidder A", keep=[keep])
    assert not re.search(r"\d+\.\d+|\d{4}-\d{2}", str(err.value))  # no amount, no date


def test_aggregate_level_suppresses_small_cells(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    got = _disclose(
        stores,
        keyring,
        world,
        level=Level.AGGREGATE,
        recipient="Bidder A",
        group_by=["province", "gender"],
        measures=["count", "sum:total_amount"],
        k_min=10,
    )
    frame = got.frame
    released = frame.filter(pl.col("customers").is_not_null())
    assert released.get_column("customers").min() >= 10
    assert frame.filter(pl.col("customers").is_null()).height > 0  # some small provinces


def test_aggregate_on_orders_by_product(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    got = _disclose(
        stores,
        keyring,
        world,
        level=Level.AGGREGATE,
        recipient="Bidder A",
        table=TableRole.ORDERS,
        group_by=["age_band"],
        measures=["count", "mean:amount"],
    )
    assert got.frame.height > 0
    assert "age_band" in got.frame.columns


def test_full_level_only_for_the_steward_and_denial_recorded(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    full = _disclose(stores, keyring, world, level=Level.FULL)
    assert "subject_id" in full.frame.columns and full.frame.height == ROWS
    with pytest.raises(Forbidden):
        _disclose(
            stores,
            keyring,
            world,
            level=Level.AGGREGATE,
            recipient="Bidder A",
            actor=P(world.bidder_person),
            group_by=["gender"],
        )
    with stores.unit_of_work() as uow:
        events = uow.records.scalars(
            select(AuditEvent).where(AuditEvent.action == "disclose").order_by(AuditEvent.seq)
        ).all()
        assert [e.decision for e in events][-2:] == ["allow", "deny"]
        assert '"level":"full"' in events[-2].body.decode()


def test_every_output_states_level_recipient_time_parameters(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path], tmp_path: Path
) -> None:
    got = _disclose(stores, keyring, world, level=Level.ANONYMIZED, recipient="Bidder B", k=5)
    for fmt in ("csv", "xlsx", "parquet"):
        path = tmp_path / f"out.{fmt}"
        write_disclosure(got.frame, path=path, fmt=fmt, meta=got.meta)  # type: ignore[arg-type]
        meta = read_disclosure_meta(path)
        assert meta["level"] == "anonymized"
        assert meta["recipient"] == "Bidder B"
        assert meta["generated_at"]
        assert meta["parameters"]["k"] == 5
        back = read_disclosure(path)
        assert back.height == got.frame.height
        assert back.columns == got.frame.columns


def test_metadata_level_has_no_values(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    got = _disclose(stores, keyring, world, level=Level.METADATA)
    assert {"column", "pii_type", "category"} <= set(got.frame.columns)
    assert not (_source_values(loaded, "手机号") & _all_text(got.frame))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"level": Level.MASKED}, "--recipient is required"),
        (
            {"level": Level.ANONYMIZED, "recipient": "Bidder A", "quasi_identifiers": ["phone"]},
            "phone",
        ),
        ({"level": Level.ANONYMIZED, "recipient": "Bidder A", "keep": ["name"]}, "name"),
        (
            {"level": Level.AGGREGATE, "recipient": "Bidder A", "group_by": ["id_number"]},
            "id_number",
        ),
        (
            {"level": Level.ANONYMIZED, "recipient": "Bidder A", "table": TableRole.ORDERS},
            "customers",
        ),
        (
            {"level": Level.ANONYMIZED, "recipient": "Bidder A", "quasi_identifiers": ["nope"]},
            "nope",
        ),
    ],
)
def test_bad_requests_are_refused_clearly(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    loaded: dict[str, Path],
    kw: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(Invalid, match=message):
        _disclose(stores, keyring, world, **kw)


def test_top_products_released_alone(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path]
) -> None:
    got = _disclose(
        stores,
        keyring,
        world,
        level=Level.AGGREGATE,
        recipient="Bidder A",
        table=TableRole.ORDERS,
        measures=["top:product:5"],
    )
    released = got.frame.filter(~pl.col("suppressed"))
    assert "product" in got.frame.columns
    assert released.get_column("customers").min() >= 10
    with pytest.raises(Invalid, match="alone"):
        _disclose(
            stores,
            keyring,
            world,
            level=Level.AGGREGATE,
            recipient="Bidder A",
            measures=["count", "top:favourite_product"],
        )


def test_a_leaked_disclosure_is_traced_to_its_recipient(
    stores: AppStores, keyring: KeyRing, world: World, loaded: dict[str, Path], tmp_path: Path
) -> None:
    from dealvault.flows.leaks import trace_file

    for recipient in ("Bidder A", "Bidder B"):
        got = _disclose(stores, keyring, world, level=Level.MASKED, recipient=recipient)
        leaked = got.frame.drop("token").sample(fraction=0.5, seed=1)
        renamed = leaked.rename({c: f"col{i}" for i, c in enumerate(leaked.columns)})
        path = tmp_path / f"leak-{recipient[-1]}.csv"
        renamed.select(list(reversed(renamed.columns))).write_csv(path)
        result = trace_file(stores, keyring, actor=P(world.steward), path=path, deal=world.deal)
        assert result.verdict == recipient
