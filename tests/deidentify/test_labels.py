"""Released labels are true: every generalised value is the lowest common ancestor of its class's
actual values, whatever the order of the hierarchy file's rows; NCP is measured on those labels."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.deidentify.generalise import region_hierarchy
from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.kanon import QuasiIdentifier, anonymize_traced

# An invented occupation tree (leaf; group; sector; root), 29 leaves.
TREE = {
    "Manual": {
        "Craft": ["Joiner", "Mason", "Welder", "Plumber"],
        "Transport": ["Driver", "Courier", "Pilot"],
        "Farming": ["Grower", "Herder", "Forester", "Fisher"],
    },
    "Office": {
        "Clerical": ["Typist", "Filer", "Receptionist"],
        "Finance": ["Teller", "Auditor", "Broker", "Actuary"],
        "Sales": ["Vendor", "Buyer", "Agent"],
    },
    "Care": {
        "Health": ["Nurse", "Medic", "Porter", "Midwife"],
        "Service": ["Cook", "Cleaner", "Guard", "Barber"],
    },
}
ROWS = [
    [leaf, group, sector, "*"]
    for sector, groups in TREE.items()
    for group, leaves in groups.items()
    for leaf in leaves
]


def _shuffled_file(tmp_path: Path, rows: list[list[str]], *, seed: int) -> Path:
    """The rows in an order that is not depth-first (as ARX's own Adult files are)."""
    order = rows[:]
    random.Random(seed).shuffle(order)
    path = tmp_path / "occupation.csv"
    path.write_text("".join(";".join(r) + "\n" for r in order), encoding="utf-8")
    return path


def _check_true_labels(
    *, table: pl.DataFrame, original: pl.Series, released: pl.Series, classes: pl.Series
) -> float:
    """Every released label is the lowest common ancestor of its class's values, found here
    from ``table`` alone (so in any row order), and therefore contains the row's own value;
    returns the column's NCP: mean of (leaves under the label - 1) / (leaves - 1)."""
    levels = table.columns
    n_leaves = table.height
    under = [
        table.group_by(c).agg(pl.len().alias(f"u{i}")).rename({c: f"a{i}"})
        for i, c in enumerate(levels)
    ]
    rows = pl.DataFrame({"leaf": original, "label": released, "cls": classes})
    joined = rows.join(table, left_on="leaf", right_on=levels[0], how="left")
    assert joined.height == rows.height
    joined = joined.with_columns(pl.col("leaf").alias(levels[0]))
    per_class = joined.group_by("cls").agg(
        *(pl.col(c).n_unique().alias(f"n{i}") for i, c in enumerate(levels)),
        *(pl.col(c).first().alias(f"a{i}") for i, c in enumerate(levels)),
    )
    lca_level = pl.coalesce(
        *(pl.when(pl.col(f"n{i}") == 1).then(pl.lit(i)) for i in range(len(levels)))
    )
    lca_label = pl.coalesce(
        *(pl.when(pl.col(f"n{i}") == 1).then(pl.col(f"a{i}")) for i in range(len(levels))),
        pl.lit("*"),
    )
    per_class = per_class.with_columns(lvl=lca_level, lca=lca_label)
    for i, u in enumerate(under):
        per_class = per_class.join(u, on=f"a{i}", how="left")
    leaves_under = pl.coalesce(
        *(pl.when(pl.col("lvl") == i).then(pl.col(f"u{i}")) for i in range(len(levels))),
        pl.lit(n_leaves),
    )
    per_class = per_class.with_columns(under=leaves_under).select("cls", "lca", "under")
    checked = rows.join(per_class, on="cls", how="left")
    wrong = checked.filter(pl.col("label") != pl.col("lca"))
    assert wrong.height == 0, f"{wrong.height} of {rows.height} labels are not their class's LCA"
    # the LCA holds the row's value: its leaf's ancestors at some level, or the root "*"
    ancestors = pl.concat(
        [table.select(pl.col(levels[0]).alias("leaf"), pl.col(c).alias("label")) for c in levels]
    ).unique()
    outside = checked.join(ancestors, on=["leaf", "label"], how="anti")
    assert outside.filter(pl.col("label") != "*").height == 0
    loss = (checked.get_column("under") - 1) / max(n_leaves - 1, 1)
    return float(loss.mean())  # type: ignore[arg-type]


def _released_labels_are_true(
    *, table: pl.DataFrame, tree: Hierarchy, frame: pl.DataFrame, k: int, seed: int
) -> None:
    """Anonymise ``frame`` (its first column generalised with ``tree``, its second numeric)
    and check its labels and NCP against ``table``, the hierarchy as written."""
    column, other = frame.columns
    q = [QuasiIdentifier(column, "categorical", tree), QuasiIdentifier(other, "numeric")]
    out, report, source = anonymize_traced(frame, quasi_identifiers=q, k=k, seed=seed)
    ncp = _check_true_labels(
        table=table,
        original=frame.get_column(column).gather(source),
        released=out.get_column(column),
        classes=out.select(pl.struct(column, other).rank("dense")).to_series().alias("cls"),
    )
    assert report.ncp_per_column[column] == pytest.approx(ncp)


def test_shuffled_file_builds_depth_first(tmp_path: Path) -> None:
    tree = Hierarchy.from_csv(_shuffled_file(tmp_path, ROWS, seed=3))
    # the leaves under each node form one run in the hierarchy's order
    for level in range(1, tree.depth):
        runs = tree.level(level).rle_id()
        assert runs.n_unique() == tree.level(level).n_unique()
    assert sorted(tree.leaves.to_list()) == sorted(r[0] for r in ROWS)


@pytest.mark.parametrize("k", [5, 25, 100])
def test_shuffled_file_labels_are_true_and_ncp_is_measured_on_them(tmp_path: Path, k: int) -> None:
    tree = Hierarchy.from_csv(_shuffled_file(tmp_path, ROWS, seed=7), name="occupation")
    rng = np.random.default_rng(k)
    n = 5_000
    frame = pl.DataFrame(
        {"occ": rng.choice([r[0] for r in ROWS], n), "age": rng.integers(18, 90, n)}
    )
    table = pl.DataFrame(ROWS, schema=["l0", "l1", "l2", "l3"], orient="row")
    _released_labels_are_true(table=table, tree=tree, frame=frame, k=k, seed=1)


def test_region_hierarchy_labels_are_true() -> None:
    tree = region_hierarchy()
    rng = np.random.default_rng(5)
    leaves = tree.leaves.to_numpy()
    # scattered counties all over the country: classes cross cities and provinces
    picked = rng.choice(leaves, 300, replace=False)
    n = 4_000
    frame = pl.DataFrame({"region": rng.choice(picked, n), "age": rng.integers(18, 90, n)})
    for k in (3, 20, 80):
        _released_labels_are_true(table=tree.table, tree=tree, frame=frame, k=k, seed=k)
    # the same tree from its rows in a shuffled order gives the same labels
    shuffled = tree.table.sample(fraction=1.0, shuffle=True, seed=2)
    again = Hierarchy.build(name="region", table=shuffled)
    _released_labels_are_true(table=shuffled, tree=again, frame=frame, k=20, seed=20)


@st.composite
def trees(draw: st.DrawFn) -> list[list[str]]:
    """A random tree of 2 to 4 levels below the root, rows in a random order."""
    fanouts = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    paths: list[list[str]] = [[]]
    for depth, fanout in enumerate(fanouts):
        paths = [[*p, f"n{depth}.{'.'.join(p)}.{i}"] for p in paths for i in range(fanout)]
    leaves = draw(st.integers(1, 4))
    rows = [[f"v{j}.{p[-1]}", *reversed(p), "*"] for p in paths for j in range(leaves)]
    return draw(st.permutations(rows))


@settings(max_examples=60, deadline=None)
@given(rows=trees(), seed=st.integers(0, 10**6), n=st.integers(2, 200), k=st.integers(2, 12))
def test_property_every_label_contains_its_value(
    rows: list[list[str]], seed: int, n: int, k: int
) -> None:
    if n < k:
        return
    table = pl.DataFrame(rows, schema=[f"l{i}" for i in range(len(rows[0]))], orient="row")
    tree = Hierarchy.build(name="t", table=table)
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {"v": rng.choice(table.get_column("l0").to_numpy(), n), "x": rng.integers(0, 9, n)}
    )
    _released_labels_are_true(table=table, tree=tree, frame=frame, k=k, seed=seed)
