"""The UCI Adult data for bench/adult.py: read from a directory, or generated to its schema.

Two layouts of the real data are read from ``DIR``:

* ``adult.csv`` as ARX ships it: ``;``-separated, a header line, the columns ``sex``, ``age``,
  ``race``, ``marital-status``, ``education``, ``native-country``, ``workclass``,
  ``occupation``, ``salary-class`` (30,162 rows: the records without a missing value);
* ``adult.data`` as the UCI repository ships it: ``,``-separated, no header, 15 columns, ``?``
  for a missing value; rows with a missing value among the columns used are left out (so the
  same 30,162 rows remain), and how many were is reported.

Categorical quasi-identifiers use ARX's hierarchy files ``adult_hierarchy_<column>.csv`` when
``DIR`` holds them (read by :meth:`dealvault.deidentify.hierarchy.Hierarchy.from_csv`), else
the hierarchies built here (:data:`TREES`). Without real data the rows are generated, seeded,
with marginals close to the real ones (:func:`generate`). The data is never committed:
``bench/data/`` is git-ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.deidentify.hierarchy import Hierarchy

#: Quasi-identifiers, in the usual order of Adult studies; ``age`` is numeric.
CATEGORICAL = (
    "sex",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
)
QUASI = ("age", *CATEGORICAL)
SENSITIVE = "salary-class"
UCI_ROWS = 32_561  # rows of adult.data, before records with a missing value are left out

#: Columns of UCI's adult.data, in file order (our names where a column is used).
UCI_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", SENSITIVE,
)  # fmt: skip

#: Built-in hierarchies (used without ARX's files): group -> subgroup -> leaves, or
#: group -> leaves (``*``: the leaves are right under the root). Leaves are the values of the
#: Adult schema.
TREES: dict[str, dict[str, dict[str, list[str]] | list[str]]] = {
    "sex": {"*": ["Female", "Male"]},
    "race": {"White": ["White"], "not White": ["Black", "Asian-Pac-Islander",
             "Amer-Indian-Eskimo", "Other"]},
    "marital-status": {
        "married": ["Married-civ-spouse", "Married-AF-spouse", "Married-spouse-absent"],
        "was married": ["Divorced", "Separated", "Widowed"],
        "never married": ["Never-married"],
    },
    "education": {
        "school": {
            "primary": ["Preschool", "1st-4th", "5th-6th"],
            "middle": ["7th-8th", "9th", "10th", "11th", "12th"],
            "high school": ["HS-grad"],
        },
        "after school": {
            "college": ["Some-college", "Assoc-acdm", "Assoc-voc"],
            "degree": ["Bachelors", "Masters", "Prof-school", "Doctorate"],
        },
    },
    "native-country": {
        "United-States": ["United-States"],
        "Americas": ["Mexico", "Puerto-Rico", "Canada", "El-Salvador", "Cuba", "Jamaica",
                     "Dominican-Republic", "Guatemala", "Columbia", "Haiti", "Nicaragua",
                     "Peru", "Ecuador", "Trinadad&Tobago", "Honduras",
                     "Outlying-US(Guam-USVI-etc)"],
        "Europe": ["Germany", "England", "Italy", "Poland", "Portugal", "Greece", "France",
                   "Ireland", "Yugoslavia", "Hungary", "Scotland", "Holand-Netherlands"],
        "Asia and other": ["Philippines", "India", "South", "China", "Vietnam", "Japan",
                           "Iran", "Taiwan", "Hong", "Cambodia", "Thailand", "Laos"],
    },
    "workclass": {
        "private": ["Private"],
        "self-employed": ["Self-emp-not-inc", "Self-emp-inc"],
        "government": ["Federal-gov", "State-gov", "Local-gov"],
        "unpaid": ["Without-pay", "Never-worked"],
    },
    "occupation": {
        "office": ["Prof-specialty", "Exec-managerial", "Adm-clerical", "Sales",
                   "Tech-support"],
        "manual": ["Craft-repair", "Machine-op-inspct", "Transport-moving",
                   "Handlers-cleaners", "Farming-fishing"],
        "service": ["Other-service", "Protective-serv", "Priv-house-serv", "Armed-Forces"],
    },
}  # fmt: skip

#: Shares (per cent, rounded) of the commoner values in the real data; a column's other
#: values share what is left equally.
SHARES: dict[str, dict[str, float]] = {
    "sex": {"Male": 67.6, "Female": 32.4},
    "race": {"White": 86.0, "Black": 9.3, "Asian-Pac-Islander": 3.0,
             "Amer-Indian-Eskimo": 0.95, "Other": 0.75},
    "education": {"HS-grad": 32.6, "Some-college": 22.1, "Bachelors": 16.7, "Masters": 5.4,
                  "Assoc-voc": 4.3, "11th": 3.5, "Assoc-acdm": 3.3, "10th": 2.7,
                  "7th-8th": 1.9, "Prof-school": 1.8, "9th": 1.5, "12th": 1.3,
                  "Doctorate": 1.2, "5th-6th": 0.95, "1st-4th": 0.5},
    "native-country": {"United-States": 91.2, "Mexico": 2.0, "Philippines": 0.6,
                       "Germany": 0.4, "Puerto-Rico": 0.35, "Canada": 0.35, "India": 0.33},
    "workclass": {"Private": 73.9, "Self-emp-not-inc": 8.3, "Local-gov": 6.9,
                  "State-gov": 4.2, "Self-emp-inc": 3.6, "Federal-gov": 3.1},
    "occupation": {"Prof-specialty": 13.4, "Craft-repair": 13.4, "Exec-managerial": 13.2,
                   "Adm-clerical": 12.3, "Sales": 11.9, "Other-service": 10.7,
                   "Machine-op-inspct": 6.5, "Transport-moving": 5.2,
                   "Handlers-cleaners": 4.5, "Farming-fishing": 3.3, "Tech-support": 3.0,
                   "Protective-serv": 2.1},
}  # fmt: skip
#: Marital status over 25 (under 25 most are never married; see :func:`generate`).
MARRIED_OVER_25 = {"Married-civ-spouse": 55.0, "Never-married": 19.0, "Divorced": 16.5,
                   "Separated": 3.6, "Widowed": 3.3, "Married-spouse-absent": 1.4}  # fmt: skip


@dataclass(frozen=True)
class AdultData:
    """The rows (the quasi-identifiers and the income class), a hierarchy per categorical
    column, and where both came from."""

    frame: pl.DataFrame
    hierarchies: dict[str, Hierarchy]
    source: str  # "uci-adult" or "generated"
    detail: dict[str, object]


def tree_hierarchy(*, column: str) -> Hierarchy:
    """The built-in hierarchy of ``column`` (:data:`TREES`), padded to one depth, ``*`` on top."""
    paths: list[list[str]] = []
    for group, below in TREES[column].items():
        if isinstance(below, list):
            paths += [[leaf] if group == "*" else [leaf, group] for leaf in below]
        else:
            paths += [[leaf, sub, group] for sub, leaves in below.items() for leaf in leaves]
    depth = max(len(p) for p in paths)
    # a shorter path repeats its leaf, so every row has the same number of levels
    rows = [[p[0]] * (depth - len(p)) + p + ["*"] for p in paths]
    table = pl.DataFrame({f"level{i}": [r[i] for r in rows] for i in range(depth + 1)})
    return Hierarchy.build(name=column, table=table)


def domain(*, column: str) -> list[str]:
    """The values of a categorical column in the Adult schema."""
    return tree_hierarchy(column=column).leaves.to_list()


def load(*, directory: Path | None, rows: int = UCI_ROWS, seed: int = 1) -> AdultData:
    """The real data from ``directory`` when it holds it, else (or without a directory)
    ``rows`` generated rows."""
    real = _read_real(directory) if directory is not None else None
    if directory is None or real is None:
        generated = generate(rows=rows, seed=seed)
        hierarchies = {c: tree_hierarchy(column=c) for c in CATEGORICAL}
        detail = {"seed": seed, "hierarchies": dict.fromkeys(CATEGORICAL, "built-in")}
        return AdultData(generated, hierarchies, "generated", detail)
    frame, detail = real
    frame = frame.with_columns(pl.col("age").str.strip_chars().cast(pl.Int64))
    hierarchies, origin = {}, {}
    for column in CATEGORICAL:
        path = directory / f"adult_hierarchy_{column}.csv"
        if path.is_file():
            hierarchies[column], origin[column] = Hierarchy.from_csv(path, name=column), "arx"
        else:
            hierarchies[column], origin[column] = tree_hierarchy(column=column), "built-in"
    detail["hierarchies"] = origin
    return AdultData(frame, hierarchies, "uci-adult", detail)


def _read_real(directory: Path) -> tuple[pl.DataFrame, dict[str, object]] | None:
    """ARX's adult.csv or else UCI's adult.data from ``directory`` (all text), or None."""
    arx, uci = directory / "adult.csv", directory / "adult.data"
    if arx.is_file():
        frame = pl.read_csv(arx, separator=";", infer_schema=False).select(*QUASI, SENSITIVE)
        return frame, {"file": "adult.csv (ARX layout)", "rows_missing_left_out": 0}
    if uci.is_file():
        frame, dropped = _read_uci(uci)
        return frame, {"file": "adult.data (UCI layout)", "rows_missing_left_out": dropped}
    return None


def _read_uci(path: Path) -> tuple[pl.DataFrame, int]:
    """adult.data: values trimmed; rows with ``?`` in a used column left out (and counted)."""
    raw = pl.read_csv(
        path, has_header=False, new_columns=list(UCI_COLUMNS), infer_schema=False
    ).select(pl.col(*QUASI, SENSITIVE).str.strip_chars())
    missing = pl.any_horizontal(pl.col(*QUASI, SENSITIVE) == "?")
    kept = raw.filter(~missing & pl.col("age").is_not_null())
    return kept, raw.height - kept.height


def generate(*, rows: int, seed: int) -> pl.DataFrame:
    """``rows`` invented records of the Adult schema: marginals near the real ones (age from
    17 to 90 with mean ~38; most under 25 never married; income above 50K likelier with age,
    a degree and for men), no missing values."""
    rng = np.random.default_rng(seed)
    age = np.clip(17 + rng.gamma(3.0, 7.2, rows), 17, 90).astype(np.int64)
    data: dict[str, object] = {"age": age}
    for column in CATEGORICAL:
        if column != "marital-status":
            data[column] = _draw(rng, column=column, shares=SHARES[column], rows=rows)
    older = _draw(rng, column="marital-status", shares=MARRIED_OVER_25, rows=rows)
    young = _draw(rng, column="marital-status", shares={"Never-married": 88.0}, rows=rows)
    data["marital-status"] = np.where(age < 25, young, older)
    degree = np.isin(data["education"], ["Bachelors", "Masters", "Prof-school", "Doctorate"])
    male = np.asarray(data["sex"]) == "Male"
    logit = -3.4 + 1.6 * degree + 0.9 * male + 0.045 * (np.minimum(age, 60) - 17)
    rich = rng.random(rows) < 1 / (1 + np.exp(-logit))
    data[SENSITIVE] = np.where(rich, ">50K", "<=50K")
    return pl.DataFrame(data).select(*QUASI, SENSITIVE)


def _draw(
    rng: np.random.Generator, *, column: str, shares: dict[str, float], rows: int
) -> npt.NDArray[np.str_]:
    """Values of ``column`` with the given shares (per cent); the rest split equally."""
    values = domain(column=column)
    rest = [v for v in values if v not in shares]
    left = max(100.0 - sum(shares.values()), 0.0)
    weights = np.array([shares.get(v, left / len(rest) if rest else 0.0) for v in values])
    drawn: npt.NDArray[np.str_] = rng.choice(np.array(values), rows, p=weights / weights.sum())
    return drawn
