"""`dealvault import` on CSVs whose header row has one empty cell (a,,c): read, classified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import env, jrun, run, setup_deal  # noqa: F401 - env is a fixture

ROWS = [
    ("张伟", "13812345678", "北京"),
    ("李娜", "13987654321", "上海"),
    ("王芳", "15012345678", "广州"),
]


def _rows(empty: int) -> list[str]:
    """The mobile numbers sit under the empty header cell."""
    if empty == 1:
        return [",".join((mobile, name, city)) for name, mobile, city in ROWS]
    return [",".join(row) for row in ROWS]


@pytest.mark.parametrize(
    ("header", "empty", "enc"),
    [
        ("姓名,,城市", 2, "utf-8"),
        ('姓名,"",城市', 2, "utf-8-sig"),  # quoted empty cell, BOM
        ("姓名,,城市", 2, "gbk"),
        (",姓名,城市", 1, "utf-8"),  # pandas' unnamed index column
    ],
)
def test_one_empty_header_cell_is_named_and_classified(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    header: str,
    empty: int,
    enc: str,
) -> None:
    setup_deal()
    path = tmp_path / "export.csv"
    lines = [header, *_rows(empty)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding=enc)
    preview = jrun("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run")
    assert preview["notes"] == [  # type: ignore[index]
        f"column {empty} has no header: named 'column_{empty}'"
    ]
    classified = preview["classified"]  # type: ignore[index]
    name = f"column_{empty}"
    assert set(classified) == {"姓名", name, "城市"}
    assert classified[name]["pii_type"] == "cn_mobile"
    assert "13812345678" not in json.dumps(preview)  # headers and figures only
    done = " ".join(run("import", str(path), "--deal", "d1", "--dataset", "crm").split())
    assert "import #1 committed" in done
