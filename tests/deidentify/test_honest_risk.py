"""Honest risk: every released column counts unless declared non-identifying with a reason;
kept columns of many values (amounts, counts, dates, identifiers) are refused unless
generalised; canary rows do not count toward a class's k."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.kanon import QuasiIdentifier, anonymize, anonymize_traced
from dealvault.deidentify.released import KEEP_MAX_DISTINCT, Kept, kind_of
from dealvault.errors import Invalid

QIS = [QuasiIdentifier("age", "numeric"), QuasiIdentifier("gender", "categorical")]


def customers(n: int, seed: int) -> pl.DataFrame:
    """Invented customers: two quasi-identifiers and columns one might want to keep."""
    rng = np.random.default_rng(seed)
    first = date(2020, 1, 1)
    return pl.DataFrame(
        {
            "key": [f"K{i:07d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "gender": rng.choice(["F", "M"], n),
            "amount": np.round(rng.lognormal(7, 1.0, n), 2),
            "amount_text": [f"{v:.2f}" for v in rng.lognormal(7, 1.0, n)],
            "orders": rng.poisson(4, n),
            "joined": [first + timedelta(days=int(d)) for d in rng.integers(0, 1500, n)],
            "joined_text": [
                (first + timedelta(days=int(d))).isoformat() for d in rng.integers(0, 1500, n)
            ],
            "product": rng.choice(["loan", "card", "fund", "bond", "deposit", "insurance"], n),
            "channel": rng.choice(["web", "app", "branch", "phone", "agent"], n),
            "segment": rng.choice(list("ABCDEFGH"), n),
        }
    )


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("amount", "numeric"),
        ("amount_text", "numeric"),
        ("orders", "numeric"),
        ("joined", "date"),
        ("joined_text", "date"),
    ],
)
def test_numeric_and_date_columns_are_kept_only_generalised(column: str, kind: str) -> None:
    frame = customers(2_000, 1)
    assert kind_of(frame.get_column(column)) == kind
    with pytest.raises(Invalid) as err:
        anonymize(frame, quasi_identifiers=QIS, k=10, keep=[column])
    message = str(err.value)
    assert f"--keep {column!r}" in message and "only generalised" in message
    # never a value of the column in the message
    assert not any(str(v) in message for v in frame.get_column(column).head(200).to_list())


def test_generalised_kept_columns_are_released_as_ranges_and_periods() -> None:
    frame = customers(2_000, 2)
    out, report = anonymize(
        frame,
        quasi_identifiers=QIS,
        k=10,
        keep=["amount:range=5000", "orders:range=5", "joined:year", "joined_text:quarter"],
        seed=1,
    )
    assert out.get_column("amount").str.starts_with("[").all()
    assert set(out.get_column("joined").to_list()) <= {"2020", "2021", "2022", "2023", "2024"}
    assert out.get_column("joined_text").str.contains(r"^\d{4}-Q[1-4]$").all()
    assert report.risk_columns == ["age", "gender", "amount", "orders", "joined", "joined_text"]


def test_many_distinct_values_are_refused_even_generalised() -> None:
    frame = customers(2_000, 3)
    with pytest.raises(Invalid) as err:
        anonymize(frame, quasi_identifiers=QIS, k=10, keep=["key"])
    message = str(err.value)
    assert "'key'" in message and "2000 distinct" in message and "K0000" not in message
    with pytest.raises(Invalid, match=r"'amount'.*distinct released values, more than 20"):
        anonymize(frame, quasi_identifiers=QIS, k=10, keep=["amount:range=10"])
    # the limit also follows k: 8 segments are too many for 60 rows at k = 10 (60 // 10 = 6)
    small = customers(60, 4)
    with pytest.raises(Invalid, match=r"'segment'.*more than 6"):
        anonymize(small, quasi_identifiers=QIS, k=10, keep=["segment"])
    assert KEEP_MAX_DISTINCT == 20


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("amount:month", "generalises dates"),
        ("joined:range=7", "generalises numbers"),
        ("amount:range=wide", "not a number"),
        ("amount:bucket=5", "unknown generalisation"),
        ("amount:", "COLUMN:RULE"),
    ],
)
def test_bad_generalisations_are_refused(spec: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        anonymize(customers(500, 5), quasi_identifiers=QIS, k=5, keep=[spec])


def test_kept_spec_parsing() -> None:
    assert Kept.parse("joined:month") == Kept(column="joined", rule="month")
    assert Kept.parse(" product ") == Kept(column="product", rule=None)


def test_every_released_column_counts_in_the_risk() -> None:
    """The issue's finding: kept columns made most customers unique while the report said
    0% unique. Now the figures count them; the k-anonymity view is reported beside them."""
    frame = customers(2_000, 6)
    keep = ["product", "channel", "segment"]
    out, report = anonymize(frame, quasi_identifiers=QIS, k=10, keep=keep, seed=2)
    assert report.risk_columns == ["age", "gender", *keep]
    sizes = out.group_by(["age", "gender", *keep]).len().get_column("len")
    unique = int(sizes.filter(sizes == 1).sum()) / out.height
    assert report.risk_after.unique_share == pytest.approx(unique) and unique > 0.2
    assert report.risk_after.prosecutor_max == 1.0
    qi_only = report.risk_after_quasi_identifiers
    assert qi_only.unique_share == 0.0 and qi_only.prosecutor_max <= 0.1
    assert report.risk_before.unique_share >= report.risk_after.unique_share


def test_a_declared_column_is_left_out_of_the_risk_with_its_reason() -> None:
    frame = customers(2_000, 7)
    reason = "channel is the seller's own sales channel, unknown to bidders"
    out, report = anonymize(
        frame,
        quasi_identifiers=QIS,
        k=10,
        keep=["product", "channel"],
        non_identifying={"channel": f"  {reason} "},
        seed=3,
    )
    assert report.risk_columns == ["age", "gender", "product"]
    assert report.non_identifying == {"channel": reason}
    assert report.to_dict()["non_identifying"] == {"channel": reason}
    sizes = out.group_by(["age", "gender", "product"]).len().get_column("len")
    assert report.risk_after.prosecutor_max == pytest.approx(1 / sizes.min())


def test_the_sensitive_column_counts_unless_declared() -> None:
    frame = customers(2_000, 8)
    kw = {"quasi_identifiers": QIS, "k": 10, "sensitive": "product", "l": 2}
    _, counted = anonymize(frame, **kw)  # type: ignore[arg-type]
    assert counted.risk_columns == ["age", "gender", "product"]
    why = "the attribute l-diversity protects; bidders do not know it"
    _, declared = anonymize(frame, non_identifying={"product": why}, **kw)  # type: ignore[arg-type]
    assert declared.risk_columns == ["age", "gender"]
    assert declared.risk_after == declared.risk_after_quasi_identifiers


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"age": "known anyway"}, "'age' is a quasi-identifier"),
        ({"segment": "not released"}, "'segment' is declared non-identifying but is not"),
        ({"product": "  "}, "'product' is declared non-identifying without a reason"),
    ],
)
def test_bad_declarations_are_refused(declared: dict[str, str], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        anonymize(
            customers(300, 9),
            quasi_identifiers=QIS,
            k=5,
            keep=["product"],
            non_identifying=declared,
        )


def _real_class_sizes(out: pl.DataFrame, canary: np.ndarray, columns: list[str]) -> pl.Series:
    return (
        out.with_columns(canary=pl.Series(canary))
        .group_by(columns)
        .agg((~pl.col("canary")).sum().alias("real"))
        .get_column("real")
    )


def test_canaries_do_not_count_toward_k() -> None:
    frame = customers(1_000, 10)
    rng = np.random.default_rng(10)
    canary = np.zeros(frame.height, dtype=np.bool_)
    canary[rng.choice(frame.height, 60, replace=False)] = True
    flags = pl.Series(canary)
    out, report, rows = anonymize_traced(
        frame, quasi_identifiers=QIS, k=5, canaries=flags, suppression=0.05, seed=4
    )
    real = _real_class_sizes(out, canary[rows], ["age", "gender"])
    assert real.min() >= 5 and report.k_achieved == real.min()
    assert report.canaries == 60 and int(canary[rows].sum()) == 60  # never suppressed
    assert report.rows_out == out.height and report.rows_in == 1_000
    assert sum(report.class_size_histogram.values()) == report.classes
    # without the flags the same rows would count: classes are smaller in real customers
    _, blind, _ = anonymize_traced(frame, quasi_identifiers=QIS, k=5, seed=4)
    assert blind.canaries == 0 and blind.classes >= report.classes


def test_l_diversity_is_met_by_real_rows_alone() -> None:
    frame = customers(800, 11)
    canary = np.zeros(frame.height, dtype=np.bool_)
    canary[::10] = True
    out, report, rows = anonymize_traced(
        frame,
        quasi_identifiers=QIS,
        k=4,
        sensitive="product",
        l=3,
        canaries=pl.Series(canary),
        seed=5,
    )
    real_out = out.filter(pl.Series(~canary[rows]))
    distinct = real_out.group_by(["age", "gender"]).agg(pl.col("product").n_unique())
    assert distinct.get_column("product").min() >= 3
    assert report.l_achieved is not None and report.l_achieved >= 3


def test_canary_flags_must_line_up() -> None:
    frame = customers(100, 12)
    with pytest.raises(Invalid, match="one True/False flag per row"):
        anonymize(frame, quasi_identifiers=QIS, k=5, canaries=pl.Series([True, False]))


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(10, 300),
    share=st.sampled_from([0.0, 0.05, 0.3, 0.6]),
    k=st.integers(2, 8),
)
def test_property_every_class_holds_k_real_customers(
    seed: int, n: int, share: float, k: int
) -> None:
    frame = customers(n, seed)
    canary = np.random.default_rng(seed).random(n) < share
    if int((~canary).sum()) < k:
        with pytest.raises(Invalid, match="fewer than k"):
            anonymize(frame, quasi_identifiers=QIS, k=k, canaries=pl.Series(canary))
        return
    out, report, rows = anonymize_traced(
        frame, quasi_identifiers=QIS, k=k, canaries=pl.Series(canary), seed=seed
    )
    real = _real_class_sizes(out, canary[rows], ["age", "gender"])
    assert real.min() >= k
    assert report.canaries == int(canary.sum()) and out.height == n
