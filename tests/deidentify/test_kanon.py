"""anonymize(): k and l checked by pycanon, output alignment and shuffle, suppression, nulls."""

from __future__ import annotations

import json
import math
import os
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.kanon import (
    AnonymizeReport,
    QuasiIdentifier,
    anonymize,
    anonymize_traced,
)
from dealvault.errors import Invalid

REPO = Path(__file__).parents[2]
CANON_CHECK = Path(__file__).with_name("canon_check.py")
QI_NAMES = ["age", "birth", "gender", "region", "amount"]
PRODUCTS = ["loan", "deposit", "card", "fund", "insurance", "bond"]

# ARX-style hierarchy (leaf; city; province; root), invented districts
REGIONS_CSV = """\
Dongcheng;Jingdu;North;*
Xicheng;Jingdu;North;*
Haiping;Jingdu;North;*
Hexi;Jinmen;North;*
Nankai;Jinmen;North;*
Tianhe;Yangcheng;South;*
Yuexiu;Yangcheng;South;*
Futian;Pengcheng;South;*
Nanshan;Pengcheng;South;*
Luohu;Pengcheng;South;*
Wuhou;Rongcheng;West;*
Jinjiang;Rongcheng;West;*
"""


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Hierarchy:
    path = tmp_path_factory.mktemp("hier") / "region.csv"
    path.write_text(REGIONS_CSV, encoding="utf-8")
    return Hierarchy.from_csv(path, name="region")


def people(n: int, seed: int, regions: Hierarchy) -> pl.DataFrame:
    """Invented customers: quasi-identifiers, a sensitive product, and a key to follow rows."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, n)
    birth = (np.datetime64("2024-01-01") - (age * 365.25).astype("timedelta64[D]")).astype(
        "datetime64[D]"
    ) + rng.integers(-180, 180, n).astype("timedelta64[D]")
    return pl.DataFrame(
        {
            "key": [f"C{i:06d}" for i in range(n)],
            "age": age,
            "birth": birth,
            "gender": rng.choice(["F", "M"], n, p=[0.52, 0.48]),
            "region": rng.choice(regions.leaves.to_numpy(), n),
            "amount": np.round(rng.lognormal(6, 0.6, n), 2),
            "product": rng.choice(PRODUCTS, n, p=[0.3, 0.25, 0.2, 0.12, 0.08, 0.05]),
        }
    )


def keyed(frame: pl.DataFrame, **kw: Any) -> tuple[pl.DataFrame, AnonymizeReport]:
    """anonymize(), with the customer key of each output row added (a seller's-side trace:
    the key itself may not be kept, it identifies the customer)."""
    out, report, rows = anonymize_traced(frame, **kw)
    return out.with_columns(frame.get_column("key").gather(rows)), report


def qis(regions: Hierarchy) -> list[QuasiIdentifier]:
    return [
        QuasiIdentifier("age", "numeric"),
        QuasiIdentifier("birth", "date"),
        QuasiIdentifier("gender", "categorical"),
        QuasiIdentifier("region", "categorical", regions),
        QuasiIdentifier("amount", "numeric"),
    ]


def class_sizes(out: pl.DataFrame, names: list[str]) -> pl.Series:
    return out.group_by(names).len().get_column("len")


@pytest.fixture(scope="session")
def canon_python() -> str:
    configured = os.environ.get("DEALVAULT_PYCANON_PYTHON")
    python = Path(configured) if configured else REPO / ".venv-pycanon/bin/python"
    if not python.exists():
        message = f"pycanon interpreter {python} not found; run `make test`, which builds it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return str(python)


def run_canon(python: str, paths: list[Path], sa: str | None) -> list[dict[str, int | None]]:
    args = [python, str(CANON_CHECK), *map(str, paths), "--qi", ",".join(QI_NAMES)]
    if sa:
        args += ["--sa", sa]
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


CASES = [(k, None, "distinct") for k in (2, 5, 10, 25)] + [
    (k, l_value, kind)
    for k in (2, 5, 10, 25)
    for l_value in (2, 3)
    for kind in ("distinct", "entropy")
]


@pytest.fixture(scope="module")
def canon_results(
    canon_python: str, regions: Hierarchy, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[int, int | None, str], tuple[AnonymizeReport, dict[str, int | None]]]:
    """Every case anonymised once and checked by pycanon in one subprocess."""
    frame = people(2_500, 5, regions)
    folder = tmp_path_factory.mktemp("canon")
    reports, paths = [], []
    for i, (k, l_value, kind) in enumerate(CASES):
        out, report = anonymize(
            frame,
            quasi_identifiers=qis(regions),
            k=k,
            sensitive="product",
            l=l_value,
            l_kind=kind,  # type: ignore[arg-type]
            suppression=0.01,
            seed=i,
        )
        paths.append(folder / f"case{i}.csv")
        out.write_csv(paths[-1])
        reports.append(report)
    checked = run_canon(canon_python, paths, "product")
    return dict(zip(CASES, zip(reports, checked, strict=True), strict=True))


@pytest.mark.parametrize(("k", "l_value", "kind"), CASES)
def test_pycanon_confirms_k_and_l(
    canon_results: dict[tuple[int, int | None, str], tuple[AnonymizeReport, dict[str, int | None]]],
    k: int,
    l_value: int | None,
    kind: str,
) -> None:
    report, canon = canon_results[(k, l_value, kind)]
    assert canon["k"] is not None and canon["k"] >= k
    assert report.k_achieved == canon["k"]
    assert report.rows_out == report.rows_in - report.suppressed
    assert report.suppressed <= math.floor(0.01 * report.rows_in)
    if l_value is not None:
        assert report.l_achieved is not None and report.l_achieved >= l_value
        got = canon["l"] if kind == "distinct" else canon["entropy_l"]
        assert got is not None and got >= l_value
    if kind == "distinct":
        assert report.l_achieved == canon["l"]


def test_output_rows_line_up_with_input(regions: Hierarchy) -> None:
    frame = people(3_000, 8, regions)
    out, report = keyed(frame, quasi_identifiers=qis(regions), k=10, sensitive="product", seed=1)
    assert out.columns == [*QI_NAMES, "product", "key"]
    assert all(out.schema[c] == pl.Utf8 for c in QI_NAMES)
    assert report.rows_out == out.height == 3_000 and report.suppressed == 0
    both = out.join(frame, on="key", suffix="_in")
    assert both.height == out.height
    assert (both["product"] == both["product_in"]).all()
    for name, raw in (("age", "age_in"), ("amount", "amount_in")):
        lo, hi = _bounds(both.get_column(name))
        assert ((lo <= both[raw]) & (both[raw] <= hi)).all(), name
    lo_d, hi_d = _bounds(both.get_column("birth"))
    birth = both["birth_in"].cast(pl.Utf8)
    assert ((lo_d <= birth) & (birth <= hi_d)).all()
    assert both.filter(
        (pl.col("gender") != pl.col("gender_in")) & (pl.col("gender") != "*")
    ).is_empty()
    ancestors = {leaf: set(row) for leaf, *row in regions.table.iter_rows()}
    assert all(g in ancestors[r] | {r} for g, r in both.select("region", "region_in").iter_rows())
    assert class_sizes(out, QI_NAMES).min() >= 10


def _bounds(labels: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Lower and upper end of ``[lo, hi]`` labels or single values (as text or numbers)."""
    parts = labels.str.strip_chars("[]").str.split_exact(", ", 1).struct.unnest()
    lo = parts.get_column("field_0")
    hi = parts.get_column("field_1").fill_null(lo)
    if labels.str.contains(r"^\[?\d{4}-").all():
        return lo, hi
    return lo.cast(pl.Float64), hi.cast(pl.Float64)


def test_output_is_a_shuffled_permutation(regions: Hierarchy) -> None:
    frame = people(1_000, 9, regions)
    kw = {"quasi_identifiers": qis(regions), "k": 5}
    out, _ = keyed(frame, seed=3, **kw)
    keys = out.get_column("key")
    assert sorted(keys.to_list()) == frame.get_column("key").to_list()
    assert keys.to_list() != frame.get_column("key").to_list()
    again, _ = keyed(frame, seed=3, **kw)
    other, _ = keyed(frame, **kw)
    assert again.equals(out)
    assert other.get_column("key").to_list() != keys.to_list()


def test_suppression_removes_planted_outliers(regions: Hierarchy) -> None:
    frame = people(2_000, 10, regions)
    planted = [3, 500, 1_200, 1_999]
    age = frame.get_column("age").to_numpy().copy()
    amount = frame.get_column("amount").to_numpy().copy()
    age[planted[:2]] = [400, 999]  # data-entry errors
    amount[planted[2:]] = [5e7, 9e7]
    frame = frame.with_columns(pl.Series("age", age), pl.Series("amount", amount))
    out, report = keyed(frame, quasi_identifiers=qis(regions), k=5, suppression=0.005, seed=2)
    assert 4 <= report.suppressed <= 10
    assert report.rows_out == out.height == 2_000 - report.suppressed
    kept = set(out.get_column("key").to_list())
    assert not kept & {f"C{i:06d}" for i in planted}
    assert class_sizes(out, QI_NAMES).min() >= 5
    _, none = anonymize(frame, quasi_identifiers=qis(regions), k=5, seed=2)
    assert none.suppressed == 0


def test_suppression_never_exceeds_budget(regions: Hierarchy) -> None:
    frame = people(2_000, 11, regions).with_columns(
        pl.Series("amount", np.random.default_rng(1).pareto(1.0, 2_000))
    )
    for budget in (0.0, 0.001, 0.02, 0.1):
        _, report = anonymize(frame, quasi_identifiers=qis(regions), k=5, suppression=budget)
        assert report.suppressed <= math.floor(budget * 2_000)
        assert report.suppression_budget == budget
    assert report.suppressed == 200  # a heavy tail fills the whole budget


def test_report_figures(regions: Hierarchy) -> None:
    frame = people(1_500, 12, regions)
    out, report = anonymize(frame, quasi_identifiers=qis(regions), k=8, sensitive="product")
    json.dumps(report.to_dict())
    sizes = class_sizes(out, QI_NAMES)
    assert (
        report.classes == len(sizes) and report.class_size_min == sizes.min() == report.k_achieved
    )
    assert report.class_size_max == sizes.max()
    assert sum(report.class_size_histogram.values()) == report.classes
    assert report.discernibility == int((sizes.cast(pl.Int64) ** 2).sum())
    assert math.isclose(report.average_class_size_metric, 1_500 / len(sizes) / 8)
    qi_only = report.risk_after_quasi_identifiers
    assert math.isclose(qi_only.prosecutor_max, 1 / sizes.min())
    assert math.isclose(qi_only.prosecutor_avg, len(sizes) / 1_500)
    assert qi_only.unique_share == 0.0
    # the released sensitive column counts too (it is not declared non-identifying)
    assert report.risk_columns == [*QI_NAMES, "product"] and report.non_identifying == {}
    every = class_sizes(out, [*QI_NAMES, "product"])
    assert math.isclose(report.risk_after.prosecutor_max, 1 / every.min())
    assert math.isclose(report.risk_after.prosecutor_avg, len(every) / 1_500)
    unique = int(every.filter(every == 1).sum()) / 1_500
    assert math.isclose(report.risk_after.unique_share, unique)
    raw = class_sizes(frame, [*QI_NAMES, "product"])
    assert math.isclose(report.risk_before.prosecutor_avg, len(raw) / 1_500)
    assert math.isclose(report.risk_before.unique_share, int(raw.filter(raw == 1).sum()) / 1_500)
    assert 0 < report.ncp < 1 and set(report.ncp_per_column) == set(QI_NAMES)
    assert math.isclose(report.ncp, sum(report.ncp_per_column.values()) / 5)
    assert report.l_requested is None and report.l_achieved is not None and report.seconds > 0


def test_released_ranges_are_strict(regions: Hierarchy) -> None:
    """With only numeric and date quasi-identifiers, no two released classes overlap on every
    column (strict partitioning survives into the output)."""
    frame = people(2_000, 15, regions)
    q = [
        QuasiIdentifier("age", "numeric"),
        QuasiIdentifier("birth", "date"),
        QuasiIdentifier("amount", "numeric"),
    ]
    out, report = anonymize(frame, quasi_identifiers=q, k=5, seed=0)
    classes = out.unique()
    assert classes.height == report.classes == report.partitions
    bounds = []
    for name in ("age", "birth", "amount"):
        lo, hi = _bounds(classes.get_column(name))
        if name == "birth":
            lo, hi = lo.str.to_date().to_physical(), hi.str.to_date().to_physical()
        bounds.append((lo.cast(pl.Float64).to_numpy(), hi.cast(pl.Float64).to_numpy()))
    for i in range(classes.height):
        overlap = np.ones(classes.height - i - 1, dtype=bool)
        for lo, hi in bounds:
            overlap &= (lo[i] <= hi[i + 1 :]) & (lo[i + 1 :] <= hi[i])
        assert not overlap.any()


def test_ncp_by_hand(regions: Hierarchy) -> None:
    """Four rows, k = 2: {18, 20} x Dongcheng/Xicheng and {60, 62} x Tianhe/Futian."""
    frame = pl.DataFrame(
        {"age": [18, 20, 60, 62], "region": ["Dongcheng", "Xicheng", "Tianhe", "Futian"]}
    )
    q = [QuasiIdentifier("age", "numeric"), QuasiIdentifier("region", "categorical", regions)]
    out, report = anonymize(frame, quasi_identifiers=q, k=2, seed=0)
    assert sorted(out.rows()) == [("[18, 20]", "Jingdu")] * 2 + [("[60, 62]", "South")] * 2
    assert math.isclose(report.ncp_per_column["age"], 2 / 44)
    # Jingdu holds 3 of 12 leaves, South 5: (2/11 + 4/11) / 2
    assert math.isclose(report.ncp_per_column["region"], 3 / 11)
    assert report.discernibility == 8 and report.classes == 2


def test_text_numbers_and_iso_dates() -> None:
    frame = pl.DataFrame(
        {
            "amount": ["12.5", " 13 ", "", "15.25", "99"],
            "day": ["2024-01-02", "2024-01-02", "2024-03-01", "2024-03-04", None],
        }
    )
    q = [QuasiIdentifier("amount", "numeric"), QuasiIdentifier("day", "date")]
    out, report = anonymize(frame, quasi_identifiers=q, k=2, seed=0)
    assert report.k_achieved >= 2
    assert out.get_column("day").drop_nulls().str.contains(r"^(\*|\d{4}-\d\d-\d\d|\[.*\])$").all()
    with pytest.raises(Invalid, match=r"row 3: not a number") as err:
        anonymize(
            frame.with_columns(pl.Series("amount", ["1", "2", "张三", "4", "5"])),
            quasi_identifiers=q,
            k=2,
        )
    assert "张三" not in str(err.value)
    with pytest.raises(Invalid, match=r"'day', row 1: not an ISO date"):
        anonymize(
            frame.with_columns(pl.Series("day", ["02/01/2024"] * 5)), quasi_identifiers=q, k=2
        )


def test_nulls_group_with_nulls(regions: Hierarchy) -> None:
    frame = people(1_000, 13, regions)
    age = frame.get_column("age").to_list()
    for i in range(0, 1_000, 25):  # 40 null ages
        age[i] = None
    region = frame.get_column("region").to_list()
    for i in (1, 2, 3):  # three null regions: fewer than k
        region[i] = None
    frame = frame.with_columns(pl.Series("age", age), pl.Series("region", region))
    out, report = keyed(frame, quasi_identifiers=qis(regions), k=5, seed=4)
    both = out.join(frame, on="key", suffix="_in")
    # null age is a value of its own: released null exactly where the input was null
    assert (both["age"].is_null() == both["age_in"].is_null()).all()
    # three null regions cannot form a class: they are kept, the column shows "*" for them
    assert (both.filter(pl.col("region_in").is_null())["region"] == "*").all()
    assert class_sizes(out, QI_NAMES).min() >= 5 and report.suppressed == 0
    # with a budget the three rare nulls go first
    out, report = keyed(frame, quasi_identifiers=qis(regions), k=5, suppression=0.003)
    assert report.suppressed == 3 and out.get_column("region").null_count() == 0
    assert not set(out.get_column("key").to_list()) & {"C000001", "C000002", "C000003"}


def test_bad_arguments(regions: Hierarchy) -> None:
    frame = people(50, 14, regions)
    q = qis(regions)
    for bad_k in (1, 0, -3):
        with pytest.raises(Invalid, match="k must be"):
            anonymize(frame, quasi_identifiers=q, k=bad_k)
    with pytest.raises(Invalid, match="50 rows, fewer than k = 60"):
        anonymize(frame, quasi_identifiers=q, k=60)
    with pytest.raises(Invalid, match="'postcode'"):
        anonymize(frame, quasi_identifiers=[*q, QuasiIdentifier("postcode", "numeric")], k=2)
    with pytest.raises(Invalid, match="'salary'"):
        anonymize(frame, quasi_identifiers=q, k=2, sensitive="salary")
    with pytest.raises(Invalid, match="only 6 distinct"):
        anonymize(frame, quasi_identifiers=q, k=2, sensitive="product", l=7)
    with pytest.raises(Invalid, match="needs a sensitive column"):
        anonymize(frame, quasi_identifiers=q, k=2, l=2)
    for budget in (1.0, -0.1, 1.5):
        with pytest.raises(Invalid, match="suppression budget"):
            anonymize(frame, quasi_identifiers=q, k=2, suppression=budget)
    with pytest.raises(Invalid, match="more than once"):
        anonymize(frame, quasi_identifiers=q, k=2, keep=["age"])
    skewed = frame.with_columns(pl.Series("product", ["loan"] * 45 + ["card"] * 5))
    with pytest.raises(Invalid, match="cannot be met"):
        anonymize(
            frame=skewed, quasi_identifiers=q, k=2, sensitive="product", l=2, l_kind="entropy"
        )
    with pytest.raises(Invalid, match="not in hierarchy"):
        anonymize(frame.with_columns(pl.lit("Atlantis").alias("region")), quasi_identifiers=q, k=2)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(2, 120),
    k=st.integers(2, 6),
    null_share=st.sampled_from([0.0, 0.1, 0.5]),
    budget=st.sampled_from([0.0, 0.05]),
    l_value=st.sampled_from([None, 2]),
)
def test_property_k_holds(
    regions: Hierarchy,
    seed: int,
    n: int,
    k: int,
    null_share: float,
    budget: float,
    l_value: int | None,
) -> None:
    rng = np.random.default_rng(seed)

    def nulls(values: list[object]) -> list[object]:
        return [None if rng.random() < null_share else v for v in values]

    frame = pl.DataFrame(
        {
            "num": pl.Series(nulls(rng.integers(0, 30, n).tolist()), dtype=pl.Int64),
            "cat": pl.Series(nulls(rng.choice(list("abcde"), n).tolist()), dtype=pl.Utf8),
            "day": pl.Series(nulls([date(2020, 1, 1 + int(d)) for d in rng.integers(0, 28, n)])),
            "reg": pl.Series(nulls(rng.choice(regions.leaves.to_list()[:7], n).tolist())),
            "s": rng.choice(["x", "y", "z"], n),
        }
    )
    q = [
        QuasiIdentifier("num", "numeric"),
        QuasiIdentifier("cat", "categorical"),
        QuasiIdentifier("day", "date"),
        QuasiIdentifier("reg", "categorical", regions),
    ]
    names = [x.column for x in q]
    kw = {"k": k, "suppression": budget, "sensitive": "s", "l": l_value, "seed": seed}
    feasible = n >= k and (l_value is None or frame["s"].n_unique() >= l_value)
    if not feasible:
        with pytest.raises(Invalid):
            anonymize(frame, quasi_identifiers=q, **kw)  # type: ignore[arg-type]
        return
    try:
        out, report = anonymize(frame, quasi_identifiers=q, **kw)  # type: ignore[arg-type]
    except Invalid as exc:  # suppression or skew may leave too little to work with
        assert "fewer than k" in str(exc) or "cannot be met" in str(exc)
        return
    sizes = class_sizes(out, names)
    assert sizes.min() >= k and report.k_achieved == sizes.min()
    assert out.height == report.rows_out == n - report.suppressed
    assert report.suppressed <= math.floor(budget * n)
    if l_value is not None:
        distinct = out.group_by(names).agg(pl.col("s").n_unique()).get_column("s")
        assert distinct.min() >= l_value


@pytest.mark.parametrize("seed", [1, 2])
def test_property_cases_pass_pycanon(canon_python: str, tmp_path: Path, seed: int) -> None:
    """A few small random frames with nulls, checked by pycanon as well."""
    rng = np.random.default_rng(seed)
    n = 300
    frame = pl.DataFrame(
        {
            "age": pl.Series(
                [None if rng.random() < 0.05 else int(v) for v in rng.integers(18, 90, n)]
            ),
            "birth": pl.Series([date(1950 + int(y), 6, 1) for y in rng.integers(0, 50, n)]),
            "gender": rng.choice(["F", "M", "X"], n, p=[0.49, 0.49, 0.02]),
            "region": rng.choice(["a", "b", "c", "d"], n),
            "amount": rng.integers(0, 10_000, n),
            "product": rng.choice(PRODUCTS, n),
        }
    )
    q = [
        QuasiIdentifier(
            c, "date" if c == "birth" else "categorical" if c in ("gender", "region") else "numeric"
        )
        for c in QI_NAMES
    ]
    out, report = anonymize(frame, quasi_identifiers=q, k=4, sensitive="product", l=3, seed=seed)
    path = tmp_path / "out.csv"
    out.write_csv(path)
    (canon,) = run_canon(canon_python, [path], "product")
    assert canon["k"] == report.k_achieved >= 4
    assert canon["l"] is not None and canon["l"] >= 3
