"""Two bidders' record-level extracts of one dataset, attacked: joined on their columns,
compared row by row, and searched for canaries (issue 17 item 3)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from dealvault.access.agreements import SignerIn
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.derive import add_derived
from dealvault.deidentify.levels import Level
from dealvault.deidentify.unlink import AMOUNT_NOISE, DATE_JITTER_DAYS, seeded_keys
from dealvault.flows import access_requests, admin, agreements
from dealvault.flows.context import AppStores
from dealvault.flows.disclosure import DisclosureRequest, disclose, resolve_recipient_tokens, view
from dealvault.flows.importing import ImportRequest, import_source
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.writers import write_export
from dealvault.transfer.canary_profile import donor_picks, groups_of, profiled
from tests.conftest import OP, STEWARD, P, World, train

ROWS = 1_200
COUNSEL = "counsel@law.example"
CLEAN = {"Bidder A": "clean@bidder-a.example", "Bidder B": "clean@bidder-b.example"}
CATEGORIES = ("identity", "contact", "preference", "transaction")
QIS = ["gender", "age", "province", "city", "district"]
#: released unchanged to both bidders: the quasi-identifiers and the coarse columns
EXACT = [*QIS, "favourite_product", "purchase_frequency", "order_count"]
NOISED_DATES = ["registered_at", "first_order", "last_order"]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def two_bidders(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> World:
    return _two_bidders(stores, keyring, world, tmp_path, row_cap=None)


@pytest.fixture
def two_capped_bidders(stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path) -> World:
    return _two_bidders(stores, keyring, world, tmp_path, row_cap=CAP)


CAP = 200


def _two_bidders(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path, *, row_cap: int | None
) -> World:
    """Counsel, a clean-team member of each bidder with agreement, training and an approved
    masked grant on the four categories, and ROWS customers with their orders."""
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=world.deal, organization="Law LLP", role="counsel")
    admin.create_person(stores, actor=OP, email=COUNSEL, name="Counsel", organization="Law LLP")
    admin.add_member(stores, actor=OP, deal=world.deal, email=COUNSEL, role="counsel")
    paths = write_export(
        out_dir=tmp_path / "export", rows=ROWS, seed=23, fmt="csv", tables=("customers", "orders")
    )
    for table in ("customers", "orders"):
        req = ImportRequest(
            actor=P(STEWARD), deal=world.deal, dataset="crm", spec=SourceSpec(paths[table])
        )
        import_source(stores, keyring, request=req, rejects_dir=tmp_path / "rejects")
    for _ in range(2):  # preparation -> due_diligence -> clean_team
        admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=P(STEWARD),
                           reason="test")  # fmt: skip
    today = date.today()
    for org, email in CLEAN.items():
        admin.create_person(stores, actor=OP, email=email, name=f"Clean {org}", organization=org)
        admin.add_member(stores, actor=OP, deal=world.deal, email=email, role="bidder_clean_team")
        agreements.add_agreement(
            stores, actor=P(STEWARD), deal=world.deal, organization=org, kind="clean_team",
            title="Clean team agreement", effective=today - timedelta(days=5),
            signers=[SignerIn(email, today - timedelta(days=5))],
        )  # fmt: skip
        train(stores, email, days_ago=10)
        req = access_requests.request_access(
            stores, actor=P(email), deal=world.deal, dataset="crm", categories=list(CATEGORIES),
            level="masked", purpose="valuation", duration_days=7, row_cap=row_cap,
        )  # fmt: skip
        access_requests.approve_request(stores, actor=P(STEWARD), request_id=req.id)
        access_requests.approve_request(stores, actor=P(COUNSEL), request_id=req.id)
    return world


def _extract(
    stores: AppStores, keyring: KeyRing, world: World, org: str, level: Level
) -> pl.DataFrame:
    """The bidder's own extract (no test seed: the production keys), with the seller's truth
    beside it: ``subject`` (None for a canary) and ``pos`` (the row's place in the file)."""
    req = DisclosureRequest(
        actor=P(CLEAN[org]), deal=world.deal, dataset="crm", level=level, purpose="valuation",
        categories=CATEGORIES,
    )  # fmt: skip
    frame = view(stores, keyring, request=req, level=level).frame
    matches = resolve_recipient_tokens(
        stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm", recipient=org,
        tokens=frame.get_column("token").to_list(), purpose="linkage test",
    )  # fmt: skip
    subjects = pl.Series("subject", [m.subject_id for m in matches], dtype=pl.String)
    return frame.with_columns(subjects, pl.int_range(pl.len()).alias("pos"))


def _linkage(a: pl.DataFrame, b: pl.DataFrame, on: list[str]) -> float:
    """Share of A's real customers an exact join on ``on`` links to exactly one row of B, and
    to the right one (what an attacker holding both files gets right)."""
    counts = b.group_by(on).agg(pl.len().alias("n"), pl.col("subject").first().alias("theirs"))
    joined = a.filter(pl.col("subject").is_not_null()).join(
        counts, on=on, how="inner", nulls_equal=True
    )
    right = joined.filter((pl.col("n") == 1) & (pl.col("theirs") == pl.col("subject"))).height
    return right / a.filter(pl.col("subject").is_not_null()).height


def _days(column: str) -> pl.Expr:
    return pl.col(column).str.to_date(strict=False).cast(pl.Int32)


def _fuzzy_pairs(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    """Pairs of rows that agree on the unchanged columns and whose noised totals and dates
    are as close as two noisings of one value can be."""
    pairs = a.join(b, on=EXACT, how="inner", nulls_equal=True, suffix="_b")
    close = pl.lit(value=True)
    for c in NOISED_DATES:
        gap = (_days(c) - _days(f"{c}_b")).abs()
        close &= gap.fill_null(0) <= 2 * DATE_JITTER_DAYS
    ratio = pl.col("total_amount") / pl.col("total_amount_b")
    bound = (1 + AMOUNT_NOISE) / (1 - AMOUNT_NOISE)
    close &= ratio.is_between(1 / bound, bound).fill_null(value=True)
    return pairs.filter(close)


@pytest.mark.usefixtures("two_bidders")
def test_two_bidders_pseudonymized_extracts_do_not_link(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    a = _extract(stores, keyring, world, "Bidder A", Level.PSEUDONYMIZED)
    b = _extract(stores, keyring, world, "Bidder B", Level.PSEUDONYMIZED)
    assert a.height == b.height == ROWS + 3
    shared = [c for c in a.columns if c in b.columns and c not in ("token", "subject", "pos")]
    assert set(EXACT + NOISED_DATES + ["total_amount"]) <= set(shared)

    # (a) joins: on every shared column the noised totals and dates never agree, so the join
    # links no more than the quasi-identifiers alone (their own uniqueness is the baseline)
    baseline = _linkage(a, b, QIS)
    exact_cols = _linkage(a, b, EXACT)
    everything = _linkage(a, b, shared)
    assert everything <= baseline and everything < 0.05
    assert baseline <= exact_cols  # the coarse columns add what their values tell, no more
    # a join that allows for the noise links no more than the unchanged columns already do:
    # the noised totals and dates add nothing (what links is what every bidder gets as is)
    fuzzy = _fuzzy_pairs(a.filter(pl.col("subject").is_not_null()), b)
    one = fuzzy.group_by("subject").agg(pl.len().alias("n"), pl.col("subject_b").first())
    right = one.filter((pl.col("n") == 1) & (pl.col("subject") == pl.col("subject_b"))).height
    assert right / ROWS <= exact_cols
    print(f"linkage: qi={baseline:.3f} unchanged={exact_cols:.3f} all={everything:.3f}"
          f" within-noise={right / ROWS:.3f}")  # fmt: skip

    # (b) row order: unrelated between the bidders, and unrelated to the import order; the
    # same on a second download
    both = a.join(b, on="subject", suffix="_b").filter(pl.col("subject").is_not_null())
    rho_ab = stats.spearmanr(both.get_column("pos"), both.get_column("pos_b")).statistic
    assert abs(rho_ab) < 0.1
    full = disclose(
        stores, keyring,
        request=DisclosureRequest(actor=P(STEWARD), deal=world.deal, dataset="crm",
                                  level=Level.FULL, purpose="record order"),
    ).frame.with_row_index("record_pos")  # fmt: skip
    order = both.join(
        full.select("subject_id", "record_pos"), left_on="subject", right_on="subject_id"
    )
    rho_import = stats.spearmanr(order.get_column("pos"), order.get_column("record_pos")).statistic
    assert abs(rho_import) < 0.1
    again = _extract(stores, keyring, world, "Bidder A", Level.PSEUDONYMIZED)
    assert again.drop("pos").equals(a.drop("pos"))

    # (c) the canaries: A's and B's canaries of one slot carry the same drawn values, so a
    # diff of the unchanged columns (the multiset difference) leaves nothing out ...
    ca, cb = (f.filter(pl.col("subject").is_null()) for f in (a, b))
    assert ca.height == cb.height == 3
    count_a = a.group_by(EXACT).agg(pl.len().alias("na"))
    count_b = b.group_by(EXACT).agg(pl.len().alias("nb"))
    surplus = count_a.join(count_b, on=EXACT, how="left", nulls_equal=True).filter(
        pl.col("na") > pl.col("nb").fill_null(0)
    )
    assert surplus.height == 0
    # ... every row of A, canaries included, has a partner in B within the noise ...
    partnered = _fuzzy_pairs(a, b).get_column("token").unique()
    unmatched = a.filter(~pl.col("token").is_in(partnered.implode()))
    assert unmatched.filter(pl.col("subject").is_null()).height == 0
    # ... and no column singles them out: every canary value of an unchanged column is a
    # value real customers have (the rates per column: the next test)
    real = a.filter(pl.col("subject").is_not_null())
    for column in EXACT:
        seen = set(real.get_column(column).drop_nulls().cast(pl.String).to_list())
        assert set(ca.get_column(column).drop_nulls().cast(pl.String).to_list()) <= seen, column


def test_canary_profiles_follow_the_real_distributions(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """Many canaries drawn from one dataset: each released column's distribution is the real
    one (chi-square on categories, Kolmogorov-Smirnov on numbers), and the zero-order rate
    of canaries is the real customers' rate."""
    paths = write_export(
        out_dir=tmp_path / "x", rows=2_000, seed=31, fmt="csv", tables=("customers", "orders")
    )
    raw = pl.read_csv(paths["customers"], infer_schema=False).rename(
        {"客户编号": "subject_id", "性别": "gender", "出生日期": "birth_date", "地址": "address",
         "注册日期": "registered_at", "偏好产品": "favourite_product",
         "购买频率": "purchase_frequency"}
    )  # fmt: skip
    orders = pl.read_csv(paths["orders"], infer_schema=False).rename(
        {"客户编号": "subject_id", "下单时间": "order_time", "金额": "amount"}
    )
    real = add_derived(raw, orders=orders, on=date(2025, 6, 30))
    groups = groups_of(real.columns, keep={"subject_id"})
    slots = 1_500
    picks = donor_picks(
        seeded_keys(5, recipient_id=1).profile, dataset_id=1, slots=slots, groups=len(groups),
        pool=real.height,
    )  # fmt: skip
    invented = real.sample(n=slots, with_replacement=True, seed=2)
    canaries = profiled(invented, donors=real, picks=picks, groups=groups)
    zero_real = (real.get_column("order_count") == 0).mean()
    zero_canary = (canaries.get_column("order_count") == 0).mean()
    assert zero_canary == pytest.approx(zero_real, abs=0.04)
    for column in ("gender", "age_band", "province", "favourite_product", "purchase_frequency"):
        both = pl.concat(
            [real.select(column, src=pl.lit("r")), canaries.select(column, src=pl.lit("c"))]
        ).fill_null("∅")
        table = both.pivot(on="src", index=column, values="src", aggregate_function="len")
        table = table.fill_null(0).select("r", "c").to_numpy()
        table = table[table.sum(axis=1) >= 10]
        assert stats.chi2_contingency(table).pvalue > 0.001, column
    for column in ("age", "order_count", "total_amount"):
        x = real.get_column(column).drop_nulls().to_numpy()
        y = canaries.get_column(column).drop_nulls().to_numpy()
        assert stats.ks_2samp(x, y).pvalue > 0.001, column
    # the groups keep dependent values together: no first order before the registration
    first = canaries.filter(pl.col("first_order").is_not_null())
    assert (first.get_column("registered_at") <= first.get_column("first_order")).all()
    # and a canary is not a copy of one customer (its groups come from different customers)
    assert np.mean(picks[:, 0] == picks[:, 1]) < 0.01


@pytest.mark.usefixtures("two_capped_bidders")
def test_two_bidders_capped_masked_extracts_hide_the_canaries(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    """Masked values (phone, ID number) are nearly unique and the same for every recipient, so
    two whole masked extracts would show each one's canaries as its rows missing from the
    other. Capped grants (masked is for spot checks) give each bidder its own random sample:
    most rows of one are missing from the other, and the canaries are lost among them."""
    a = _extract(stores, keyring, world, "Bidder A", Level.MASKED)
    b = _extract(stores, keyring, world, "Bidder B", Level.MASKED)
    assert a.height == b.height == CAP
    real_a = a.filter(pl.col("subject").is_not_null())
    shared = set(real_a.get_column("subject")) & set(b.get_column("subject").drop_nulls())
    assert len(shared) < CAP / 2  # two different samples, not the first rows of one order
    # the diff: A's rows whose masked phone B does not have
    missing = a.filter(~pl.col("phone").is_in(b.get_column("phone").drop_nulls().implode()))
    canaries = a.filter(pl.col("subject").is_null()).height
    if canaries:
        found = missing.filter(pl.col("subject").is_null()).height
        precision = found / missing.height
        assert missing.height > CAP / 2 and precision <= 3 * canaries / a.height
    # no canary tell in the masked values: e-mail domains are the real customers' domains
    domains = a.get_column("email").drop_nulls().str.extract(r"@(.+)$", 1)
    assert not domains.str.contains("canary").any()
    real_domains = set(real_a.get_column("email").drop_nulls().str.extract(r"@(.+)$", 1))
    canary_domains = a.filter(pl.col("subject").is_null()).get_column("email").drop_nulls()
    assert set(canary_domains.str.extract(r"@(.+)$", 1)) <= real_domains


@pytest.mark.usefixtures("two_bidders")
def test_a_release_carries_only_the_categories_asked_and_granted(
    stores: AppStores, keyring: KeyRing, world: World
) -> None:
    """Minimisation: a bidder asking for the preference category alone gets no column derived
    from identity, contact or transaction data (canaries included)."""
    req = DisclosureRequest(
        actor=P(CLEAN["Bidder A"]), deal=world.deal, dataset="crm", level=Level.PSEUDONYMIZED,
        purpose="valuation", categories=("preference",),
    )  # fmt: skip
    frame = view(stores, keyring, request=req, level=Level.PSEUDONYMIZED).frame
    assert frame.height == ROWS + 3
    assert "favourite_product" in frame.columns
    outside = {"gender", "age", "age_band", "province", "city", "district", "order_count",
               "total_amount", "first_order", "last_order", "name", "phone", "email"}  # fmt: skip
    assert not outside & set(frame.columns)
