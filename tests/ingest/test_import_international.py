"""Importing foreign CSV exports end to end: the classifier finds each column's phone region and
date order, the import stores E.164 numbers, ISO dates and canonical genders; a column whose
dates cannot be read without a guess is refused; Chinese files import as before.

All values are invented: US 555-01xx and UK Ofcom drama numbers are reserved for fiction, the
Indian numbers are patterned, e-mails are on .example."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.conftest import P, World
from tests.vault.helpers import customer_row, write_csv

from dealvault.crypto.keyring import KeyRing
from dealvault.errors import InputError
from dealvault.flows import customers
from dealvault.flows.context import AppStores
from dealvault.flows.importing import ImportRequest, ImportSummary, import_source, preview_mapping
from dealvault.ingest.options import ColumnOptions, DateOrder
from dealvault.ingest.readers import SourceSpec
from dealvault.vault.read import CustomerView

N = 30  # rows per file: enough distinct values for the classifier to infer the region
GIVEN = ["Alex", "Sam", "Robin", "Jordan", "Taylor", "Casey"]
US_AREAS = ["201", "202", "212", "415", "650"]
UK_LINES = ["020 7946 0", "0161 496 0", "0113 496 0", "0117 496 0"]
UK_E164 = ["+44207946", "+44161496", "+44113496", "+44117496"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _name(i: int) -> str:
    return f"{GIVEN[i % len(GIVEN)]} Example{i}"


def _us_file(tmp: Path) -> Path:
    """US export: phones (415) 555-01xx, a UK backup number, M/D/Y birth dates, ISO 5218 sex."""
    rows = [
        [
            f"US{i:03d}",
            _name(i),
            f"({US_AREAS[i % 5]}) 555-01{i:02d}",
            f"{UK_LINES[i % 4]}{i:03d}",
            f"{(i * 5) % 12 + 1}/{(i * 7) % 28 + 1}/{1950 + i}",
            "1" if i % 2 else "2",  # ISO/IEC 5218: male, female
            f"us{i}@mail.example",
        ]
        for i in range(N)
    ]
    header = ["customer_id", "full_name", "phone", "secondary_phone", "dob", "gender", "email"]
    return _write(tmp / "customers_us.csv", header, rows)


def _in_file(tmp: Path) -> Path:
    """Indian export: ten-digit mobiles without +91, D/M/Y birth dates, M/W/X/O."""
    rows = [
        [
            f"IN{i:03d}",
            _name(i),
            f"{'6789'[i % 4]}{8765 - i:04d} {43210 + i:05d}",
            f"{(i * 7) % 28 + 1:02d}/{(i * 5) % 12 + 1:02d}/{1950 + i}",
            "MWXO"[i % 4],
            f"in{i}@mail.example",
        ]
        for i in range(N)
    ]
    header = ["customer_id", "full_name", "mobile", "date_of_birth", "sex", "email"]
    return _write(tmp / "customers_in.csv", header, rows)


def _uk_file(tmp: Path, *, ambiguous: bool = False) -> Path:
    """UK export: drama numbers, dotted D.M.Y birth dates, Men/Women. ``ambiguous``: no day
    above 12, so the order cannot be told."""
    rows = []
    for i in range(N):
        day = (i * 7) % 12 + 1 if ambiguous else (i * 7) % 28 + 1
        rows.append(
            [
                f"UK{i:03d}",
                _name(i),
                f"{UK_LINES[i % 4]}{i:03d}",
                f"{day:02d}.{(i * 5) % 12 + 1:02d}.{1950 + i}",
                "Men" if i % 2 else "Women",
                f"uk{i}@mail.example",
            ]
        )
    header = ["customer_id", "full_name", "phone", "birthday", "gender", "email"]
    return _write(tmp / "customers_uk.csv", header, rows)


def _request(world: World, path: Path, dataset: str, **kw: object) -> ImportRequest:
    return ImportRequest(
        actor=P(world.steward),
        deal=world.deal,
        dataset=dataset,
        spec=SourceSpec(path=path),
        **kw,  # type: ignore[arg-type]
    )


def _import(
    stores: AppStores, keyring: KeyRing, world: World, path: Path, dataset: str, **kw: object
) -> ImportSummary:
    return import_source(
        stores,
        keyring,
        request=_request(world, path, dataset, **kw),
        rejects_dir=path.parent / "rejects",
    )


def _customer(
    stores: AppStores, keyring: KeyRing, world: World, dataset: str, *, by: str, value: str
) -> CustomerView:
    views = customers.lookup(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset=dataset,
        by=by,
        value=value,
        categories=None,
        purpose="test",
    )
    assert len(views) == 1, (by, value)
    return views[0]


def test_us_export_stores_e164_iso_dates_and_genders(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = _us_file(tmp_path)
    preview = preview_mapping(stores, request=_request(world, path, "us"))
    assert preview.mapping.columns["phone"] == "phone"
    assert preview.mapping.columns["secondary_phone"] == "phone_2"
    assert preview.mapping.options_of("phone") == ColumnOptions(phone_region="US")
    assert preview.mapping.options_of("secondary_phone") == ColumnOptions(phone_region="GB")
    assert preview.mapping.options_of("dob") == ColumnOptions(date_order=DateOrder.MDY)
    assert preview.readings["phone"].evidence == "phones: US national format, 100% valid"
    assert preview.readings["dob"].evidence.startswith("dates: M/D/Y, ")
    summary = _import(stores, keyring, world, path, "us")
    assert (summary.rows_read, summary.rows_imported, summary.rows_rejected) == (N, N, 0)
    # row 7: (212) 555-0107, backup 0117 496 0007, born 12/22/1957 (month first), sex 1
    v = _customer(stores, keyring, world, "us", by="customer_key", value="US007")
    assert v.data["contact"]["phone"] == "+12125550107"
    assert v.data["contact"]["phone_2"] == "+441174960007"
    assert v.data["identity"]["birth_date"] == "1957-12-22"
    assert v.data["identity"]["gender"] == "M"
    assert (
        _customer(stores, keyring, world, "us", by="customer_key", value="US008").data["identity"][
            "gender"
        ]
        == "F"
    )
    # the stored E.164 numbers are what look-up finds (by either number)
    assert _customer(stores, keyring, world, "us", by="phone", value="+1 212 555 0107").subject_id
    assert _customer(stores, keyring, world, "us", by="phone", value="+44 117 496 0007")


def test_indian_and_uk_exports(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    summary = _import(stores, keyring, world, _in_file(tmp_path), "in")
    assert (summary.rows_imported, summary.rows_rejected) == (N, 0)
    want = {  # row: phone, D/M/Y birth date, M/W/X/O
        0: ("+916876543210", "1950-01-01", "M"),
        5: ("+917876043215", "1955-02-08", "F"),
        6: ("+918875943216", "1956-07-15", "X"),
        7: ("+919875843217", "1957-12-22", "X"),
    }
    for i, (phone, born, gender) in want.items():
        v = _customer(stores, keyring, world, "in", by="customer_key", value=f"IN{i:03d}")
        assert v.data["contact"]["phone"] == phone
        assert (v.data["identity"]["birth_date"], v.data["identity"]["gender"]) == (born, gender)
    summary = _import(stores, keyring, world, _uk_file(tmp_path), "uk")
    assert (summary.rows_imported, summary.rows_rejected) == (N, 0)
    v = _customer(stores, keyring, world, "uk", by="customer_key", value="UK005")
    assert v.data["contact"]["phone"] == f"{UK_E164[1]}0005"
    assert v.data["identity"]["birth_date"] == "1955-02-08"  # 08.02.1955, day first
    assert v.data["identity"]["gender"] == "M"


def test_ambiguous_dates_are_refused_until_the_order_is_stated(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    path = _uk_file(tmp_path, ambiguous=True)
    preview = preview_mapping(stores, request=_request(world, path, "uk"))
    refused = preview.readings["birthday"].refused
    assert refused is not None and "--date-order 'birthday=DMY'" in refused
    with pytest.raises(InputError) as ei:
        _import(stores, keyring, world, path, "uk")
    err = ei.value
    assert (err.file, err.column) == ("customers_uk.csv", "birthday")
    msg = str(err)
    assert msg.startswith("customers_uk.csv, column 'birthday': ")
    assert "--date-order 'birthday=DMY' (or MDY)" in msg and 'date_order = "DMY"' in msg
    assert "1950" not in msg and "Example" not in msg  # no value in the message
    # nothing was written; stated on the command line, or in the mapping file, it imports
    stated = {"birthday": ColumnOptions(date_order=DateOrder.DMY)}
    summary = _import(stores, keyring, world, path, "uk", options=stated)
    assert (summary.rows_imported, summary.rows_rejected) == (N, 0)
    v = _customer(stores, keyring, world, "uk", by="customer_key", value="UK001")
    assert v.data["identity"]["birth_date"] == "1951-06-08"  # 08.06.1951
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('birthday = { date_order = "MDY" }\n', encoding="utf-8")
    summary = _import(
        stores, keyring, world, path, "uk-mdy", mapping_file=mapping, allow_reimport=True
    )
    v = _customer(stores, keyring, world, "uk-mdy", by="customer_key", value="UK001")
    assert v.data["identity"]["birth_date"] == "1951-08-06"
    plan = preview_mapping(stores, request=_request(world, path, "x", mapping_file=mapping))
    assert plan.readings["birthday"].evidence == "dates: M/D/Y (mapping file)"


def test_stated_region_overrides_the_one_found(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """London numbers read as Guangzhou landlines by the classifier (a tie stays Chinese): the
    user states the region."""
    rows = [[f"L{i:03d}", _name(i), f"020 7946 0{i:03d}"] for i in range(N)]
    path = _write(tmp_path / "london.csv", ["customer_id", "full_name", "phone"], rows)
    summary = _import(stores, keyring, world, path, "ldn")
    v = _customer(stores, keyring, world, "ldn", by="customer_key", value="L003")
    assert summary.rows_rejected == 0 and v.data["contact"]["phone"] == "+862079460003"
    gb = {"phone": ColumnOptions(phone_region="GB")}
    _import(stores, keyring, world, path, "ldn-gb", options=gb, allow_reimport=True)
    v = _customer(stores, keyring, world, "ldn-gb", by="customer_key", value="L003")
    assert v.data["contact"]["phone"] == "+442079460003"


def test_chinese_export_imports_as_before(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [customer_row(i, 出生日期="1985/3/12") for i in range(1, N + 1)]
    rows[3]["手机号"] = "010-6512 3456"
    path = write_csv(tmp_path / "customers.csv", rows)
    preview = preview_mapping(stores, request=_request(world, path, "cn"))
    assert preview.readings == {} and preview.mapping.options == {}
    summary = _import(stores, keyring, world, path, "cn")
    assert (summary.rows_imported, summary.rows_rejected) == (N, 0)
    v = _customer(stores, keyring, world, "cn", by="phone", value="13900000007")
    assert v.data["contact"]["phone"] == "+8613900000007"
    assert v.data["identity"]["birth_date"] == "1985-03-12"
    assert v.data["identity"]["gender"] == "M"
    landline = _customer(stores, keyring, world, "cn", by="customer_key", value="C000004")
    assert landline.data["contact"]["phone"] == "+861065123456"


def test_chinese_service_and_landline_numbers_stay_chinese(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """A 电话 column of 400 hotline numbers is not taken for German numbers."""
    rows = [
        [f"K{i:03d}", f"测试{i}", f"400-{i:03d}-{(i * 37) % 10000:04d}"] for i in range(100, 130)
    ]
    path = _write(tmp_path / "hotlines.csv", ["客户编号", "姓名", "电话"], rows)
    preview = preview_mapping(stores, request=_request(world, path, "cn"))
    assert preview.mapping.columns["电话"] == "phone" and preview.readings == {}
    summary = _import(stores, keyring, world, path, "cn")
    assert (summary.rows_imported, summary.rows_rejected) == (30, 0)
    v = _customer(stores, keyring, world, "cn", by="customer_key", value="K101")
    assert v.data["contact"]["phone"] == "+864001013737"


def test_numbers_two_regions_write_alike_are_refused_until_the_region_is_stated(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """8-digit numbers are written alike in Singapore and Hong Kong: no guess."""
    rows = [[f"S{i:03d}", _name(i), f"{'689'[i % 3]}123 {4500 + i}"] for i in range(N)]
    path = _write(tmp_path / "sg.csv", ["customer_id", "full_name", "phone"], rows)
    with pytest.raises(InputError) as ei:
        _import(stores, keyring, world, path, "sg")
    assert (ei.value.file, ei.value.column) == ("sg.csv", "phone")
    assert "--phone-region 'phone=SG' (or another)" in str(ei.value)
    assert 'phone_region = "SG"' in str(ei.value)
    hk = {"phone": ColumnOptions(phone_region="HK")}
    summary = _import(stores, keyring, world, path, "hk", options=hk)
    assert (summary.rows_imported, summary.rows_rejected) == (N, 0)
    v = _customer(stores, keyring, world, "hk", by="customer_key", value="S004")
    assert v.data["contact"]["phone"] == "+85281234504"


def test_local_numbers_under_a_chinese_header_are_not_given_a_foreign_country(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    """8-digit local numbers of a Chinese export (no area code) fit Singapore's layout: the
    import asks for the region instead of storing them as +65."""
    rows = [[f"L{i:03d}", f"测试{i}", f"8{(i * 7919) % 10_000_000:07d}"] for i in range(N)]
    path = _write(tmp_path / "local.csv", ["客户编号", "姓名", "联系电话"], rows)
    preview = preview_mapping(stores, request=_request(world, path, "cn"))
    reading = preview.readings.get("联系电话")
    assert reading is not None and reading.refused is not None
    assert reading.options.phone_region is None
    with pytest.raises(InputError) as ei:
        _import(stores, keyring, world, path, "cn")
    assert (ei.value.file, ei.value.column) == ("local.csv", "联系电话")
    assert "headed in Chinese" in str(ei.value)
    assert "--phone-region" in str(ei.value)
