"""End to end: a dataset imported on the Python path opens on the C path and the reverse; the
stored format is the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dealvault import native
from dealvault.crypto.keyring import KeyRing
from dealvault.flows.context import AppStores
from dealvault.synth import write_export
from tests.conftest import P, World
from tests.native.store_child import read_all
from tests.vault.helpers import do_import

ROOT = Path(__file__).resolve().parents[2]


def test_a_dataset_imported_on_the_python_path_reads_the_same_on_the_c_path(
    stores: AppStores,
    store_urls: tuple[str, str],
    keyring: KeyRing,
    master_key: bytes,
    world: World,
    tmp_path: Path,
) -> None:
    if not native.NATIVE:
        pytest.skip("the C kernels are not in use (not built, or DEALVAULT_NATIVE=0)")
    files = write_export(
        out_dir=tmp_path / "x", rows=300, seed=21, fmt="csv", tables=("customers",)
    )
    csv = files["customers"]
    actor, deal = P(world.steward), world.deal
    done = do_import(
        stores, keyring, csv, actor=actor, deal=deal, dataset="crm-c", rejects_dir=tmp_path
    )
    assert done.rows_imported == 300
    env = dict(os.environ, DEALVAULT_NATIVE="0")
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.native.store_child",
            *store_urls,
            master_key.hex(),
            deal,
            world.steward,
            str(csv),
            str(tmp_path / "rej"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout)
    assert seen["native"] is False and seen["imported"] == 300
    ours = {
        name: read_all(stores, keyring, deal=deal, dataset=name) for name in ("crm-c", "crm-py")
    }
    ours = json.loads(json.dumps(ours, ensure_ascii=False))  # tuples as JSON lists, as the child's
    # the same values whichever path sealed them and whichever path opens them
    assert ours["crm-py"] == seen["crm-py"] == ours["crm-c"] == seen["crm-c"]
    columns, rows = ours["crm-py"]
    assert len(rows) == 300 and "phone" in columns and "name" in columns
    names = [r[columns.index("name")] for r in rows]
    assert sum(n is not None for n in names) > 250  # decrypted values, not empty cells
