"""Import and read a dataset on whichever path this process uses; run as a module, the child
of test_python_path_store (``DEALVAULT_NATIVE=0``): it imports, then reads, and prints JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dealvault import native
from dealvault.access.models import Deal
from dealvault.crypto.keyring import KeyRing
from dealvault.crypto.providers import EnvKeyProvider
from dealvault.flows.context import AppStores
from dealvault.ingest.fields import Category
from dealvault.vault.models import Dataset
from dealvault.vault.read import active_record_ids, customers_of
from tests.conftest import P
from tests.vault.helpers import do_import

WANTED = [Category.IDENTITY, Category.CONTACT, Category.SENSITIVE, Category.PREFERENCE]


def read_all(stores: AppStores, keyring: KeyRing, *, deal: str, dataset: str) -> list[Any]:
    """Every active customer of ``dataset`` decrypted, in record order, without the ids."""
    with stores.unit_of_work() as uow:
        ds = uow.records.scalars(
            select(Dataset)
            .join(Deal, Deal.id == Dataset.deal_id)
            .where(Deal.code == deal, Dataset.name == dataset)
        ).one()
        frame = customers_of(
            uow, keyring, dataset=ds, wanted=WANTED, records=active_record_ids(uow, dataset=ds)
        )
    frame = frame.drop("record_id", "subject_id")
    return [frame.columns, frame.rows()]


def main(argv: list[str]) -> None:
    records_url, keystore_url, master_hex, deal, steward, csv_path, out_dir = argv
    stores = AppStores.connect(records_url=records_url, keystore_url=keystore_url)
    keyring = KeyRing(EnvKeyProvider.from_text(kek_id="test", text=master_hex))
    try:
        summary = do_import(
            stores,
            keyring,
            Path(csv_path),
            actor=P(steward),
            deal=deal,
            dataset="crm-py",
            rejects_dir=Path(out_dir),
        )
        got = {
            "native": native.NATIVE,
            "imported": summary.rows_imported,
            "crm-c": read_all(stores, keyring, deal=deal, dataset="crm-c"),
            "crm-py": read_all(stores, keyring, deal=deal, dataset="crm-py"),
        }
    finally:
        stores.dispose()
    print(json.dumps(got, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
