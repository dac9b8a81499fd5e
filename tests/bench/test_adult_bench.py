"""bench/adult.py without anonypy: our Mondrian on generated Adult rows releases true labels,
the label checks catch a false one, anonypy's value sets are costed as documented, and the
data is read in both of the real data's layouts."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import polars as pl
import pytest

from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.kanon import anonymize_traced

REPO = Path(__file__).resolve().parents[2]
BENCH = str(REPO / "bench")

# the bench scripts import each other by bare name (bench/ on sys.path, as when run); the path
# is taken off again so bench/api.py, bench/web.py, ... never shadow anything for other tests
sys.path.insert(0, BENCH)
try:
    import adult
    import adult_data
    import adult_labels
finally:
    while BENCH in sys.path:
        sys.path.remove(BENCH)


@pytest.fixture(scope="module")
def generated() -> adult_data.AdultData:
    data = adult_data.load(directory=None, rows=3_000, seed=7)
    assert data.source == "generated" and data.frame.height == 3_000
    return data


def test_ours_on_generated_rows_releases_true_labels(generated: adult_data.AdultData) -> None:
    ours = adult.run_ours(data=generated, k=5)
    assert ours["label_violations"] == 0
    assert 0.0 < ours["ncp"] < 1.0
    assert ours["ncp_from_labels"] == pytest.approx(ours["ncp"], abs=1e-5)
    # the same classes released as value sets never cost more than their hierarchy labels
    assert 0.0 < ours["ncp_as_value_sets"] <= ours["ncp"]
    assert ours["k_achieved"] >= 5 and ours["suppressed"] == 0
    assert ours["released_rows"] == 3_000


def test_a_label_without_the_row_value_is_counted(generated: adult_data.AdultData) -> None:
    data = generated
    out, _, rows = anonymize_traced(
        data.frame, quasi_identifiers=adult.quasi_identifiers(data=data), k=5, seed=1
    )
    original = data.frame.select(pl.col(*adult_data.QUASI).gather(rows))
    released = out.select(adult_data.QUASI)
    # row 0: an education label that is a leaf other than its own value; row 1: an age range
    # that ends below its own age
    own = original.get_column("education")[0]
    other = next(v for v in data.hierarchies["education"].leaves if v != own)
    age = int(original.get_column("age")[1])
    forged = released.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(other))
        .otherwise(pl.col("education"))
        .alias("education"),
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit(f"[{age - 9}, {age - 1}]"))
        .otherwise(pl.col("age"))
        .alias("age"),
    )
    kwargs = {
        "original": original,
        "hierarchies": data.hierarchies,
        "numeric": adult.numeric_spans(data=data),
        "style": "ours",
        "rows_in": data.frame.height,
    }
    honest = adult_labels.figures(released=released, **kwargs)  # type: ignore[arg-type]
    caught = adult_labels.figures(released=forged, **kwargs)  # type: ignore[arg-type]
    assert honest.violations == 0
    assert caught.violations == 2
    assert caught.violations_per_column["education"] == 1
    assert caught.violations_per_column["age"] == 1


def test_anonypy_value_sets_and_ranges_are_costed_as_documented() -> None:
    tree = Hierarchy.build(
        name="c",
        table=pl.DataFrame(
            {"leaf": ["a", "b", "c", "d"], "pair": ["ab", "ab", "cd", "cd"], "root": ["*"] * 4}
        ),
    )
    original = pl.DataFrame({"age": [20, 25, 30, 60], "c": ["a", "b", "c", "d"]})
    released = pl.DataFrame(
        {"age": ["20-30", "25", "20-30", "40-50"], "c": ["a,b", "a,b", "a,c", "a,b"]}
    )
    got = adult_labels.figures(
        original=original,
        released=released,
        hierarchies={"c": tree},
        numeric={"age": 40.0},
        style="anonypy",
        rows_in=4,
    )
    # age: 10/40, 0, 10/40, and row 3's range misses 60 (a violation, cost 1)
    assert got.ncp_per_column["age"] == pytest.approx((0.25 + 0 + 0.25 + 1) / 4)
    # c: {a,b} costs (2-1)/(4-1) where it holds the value; row 3's set misses "d" (cost 1)
    assert got.ncp_per_column["c"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 3 + 1) / 4)
    assert got.violations_per_column == {"age": 1, "c": 1}
    # lifted: {a,b} -> "ab" (1/3); {a,c} -> "*" (1)
    lifted_c = (1 / 3 + 1 / 3 + 1 + 1 / 3) / 4
    assert got.ncp_other == pytest.approx(((0.25 + 0 + 0.25 + 1) / 4 + lifted_c) / 2)


def test_generated_rows_follow_the_schema() -> None:
    frame = adult_data.generate(rows=adult_data.UCI_ROWS, seed=1)
    assert frame.height == 32_561 and frame.columns == [*adult_data.QUASI, adult_data.SENSITIVE]
    assert frame.null_count().sum_horizontal().item() == 0
    for column in adult_data.CATEGORICAL:
        tree = adult_data.tree_hierarchy(column=column)
        assert set(frame.get_column(column).unique()) <= set(tree.leaves)
    age = frame.get_column("age")
    assert age.min() == 17 and age.max() == 90
    assert 36 < age.mean() < 41  # type: ignore[operator]
    male = (frame.get_column("sex") == "Male").mean()
    assert 0.65 < male < 0.70  # type: ignore[operator]
    rich = (frame.get_column(adult_data.SENSITIVE) == ">50K").mean()
    assert 0.15 < rich < 0.35  # type: ignore[operator]
    again = adult_data.generate(rows=adult_data.UCI_ROWS, seed=1)
    assert again.equals(frame)


def test_real_data_is_read_in_both_layouts(tmp_path: Path) -> None:
    sample = adult_data.generate(rows=40, seed=3)
    arx = tmp_path / "arx"
    arx.mkdir()
    sample.write_csv(arx / "adult.csv", separator=";")
    # an ARX-layout hierarchy file for one column, rows shuffled (not depth-first)
    lines = [f"{leaf};{'M' if leaf.startswith('M') else 'F'};*" for leaf in ["Male", "Female"]]
    random.Random(1).shuffle(lines)
    (arx / "adult_hierarchy_sex.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = adult_data.load(directory=arx)
    assert data.source == "uci-adult" and data.frame.height == 40
    assert data.frame.get_column("age").dtype == pl.Int64
    assert data.detail["hierarchies"]["sex"] == "arx"  # type: ignore[index]
    assert data.detail["hierarchies"]["race"] == "built-in"  # type: ignore[index]

    uci = tmp_path / "uci"
    uci.mkdir()
    records = []
    for i, row in enumerate(sample.iter_rows(named=True)):
        occupation = "?" if i % 10 == 0 else row["occupation"]  # 4 rows with a missing value
        records.append(
            f"{row['age']}, {row['workclass']}, 77516, {row['education']}, 13,"
            f" {row['marital-status']}, {occupation}, Not-in-family, {row['race']},"
            f" {row['sex']}, 0, 0, 40, {row['native-country']}, {row['salary-class']}"
        )
    (uci / "adult.data").write_text("\n".join(records) + "\n", encoding="utf-8")
    data = adult_data.load(directory=uci)
    assert data.source == "uci-adult" and data.frame.height == 36
    assert data.detail["rows_missing_left_out"] == 4
    assert data.frame.get_column("sex").to_list() == [
        s for i, s in enumerate(sample.get_column("sex")) if i % 10
    ]
    ours = adult.run_ours(data=data, k=3)
    assert ours["label_violations"] == 0
