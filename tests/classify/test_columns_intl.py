"""International columns: value-based types, header words as evidence only with value support."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest

from dealvault.classify.columns import classify_column
from dealvault.classify.dates import parse_dates
from dealvault.classify.headers import header_hint

TODAY = date(2025, 6, 30)
CONFIDENT = 0.9  # what import needs to map a column

NAMES = ["John Smith", "Mary Johnson", "Robert O'Brien", "Anna Müller", "Jean-Luc Moreau",
         "Priya Sharma", "Wei Zhang", "Sarah Connor", "Zoltan Kovacs", "Emily Davis",
         "SMITH, John", "Maria de la Cruz"]  # fmt: skip
ADDRESSES = ["123 Main St", "10 Downing Street, London SW1A 2AA",
             "Hauptstraße 5, 10115 Berlin", "12 rue de la Paix 75002 Paris",
             "742 Evergreen Terrace, Springfield IL 62704", "Via Roma 10, 00184 Roma",
             "221B Baker Street", "Keizersgracht 123, Amsterdam"]  # fmt: skip
PHONES = {
    "US": ["(201) 555-0123", "202-555-0187", "212-736-5000", "(415) 555-0199", "650 555 0142"],
    "GB": ["020 7946 0958", "0161 496 0000", "0113 496 0123", "07911 123456"],
    "DE": ["030 12345678", "0151 23456789", "089 1234567"],
    "FR": ["01 23 45 67 89", "06 12 34 56 78", "04 91 23 45 67"],
    "IN": ["98765 43210", "91234 56789", "080 2345 6789"],
    "JP": ["03-1234-5678", "090-1234-5678", "06-6123-4567"],
    "SG": ["6123 4567", "9123 4567", "8123 4567"],
    "HK": ["2123 4567", "9123 4567", "3123 4567"],
    "TW": ["02 2345 6789", "0912 345 678", "04 2234 5678"],
}


def classify(header: str | None, values: list[object]) -> tuple[str | None, float, str | None]:
    got = classify_column(name=header, values=pl.Series("v", values * 5), today=TODAY)
    return got.pii_type, got.confidence, got.field


@pytest.mark.parametrize("header", ["Full Name", "name", "Customer Name", "last_name"])
def test_latin_names_with_header_reach_the_mapping_threshold(header: str) -> None:
    t, conf, field = classify(header, NAMES)
    assert (t, field) == ("person_name", "name") and conf >= CONFIDENT


def test_latin_names_without_header_are_found_below_the_threshold() -> None:
    t, conf, _ = classify(None, NAMES)
    assert t == "person_name" and 0.5 < conf < CONFIDENT


def test_first_names_repeat_and_are_still_names() -> None:
    firsts = ["James", "Mary", "Olivia", "Liam", "Noah", "Emma", "Ava", "Zebediah"] * 30
    assert classify("First Name", firsts)[0] == "person_name"


@pytest.mark.parametrize("header", ["company_name", "street_name", "country_name", "file_name",
                                    "user_name", "Company Name", "product_name"])  # fmt: skip
def test_name_headers_of_things_are_not_person_names(header: str) -> None:
    assert "person_name" not in header_hint(header).types
    assert "cn_name" not in header_hint(header).types


def test_companies_cities_and_streets_are_not_names() -> None:
    companies = ["Acme Inc", "Globex Corp", "Initech LLC", "Umbrella Group", "Stark Ltd"]
    cities = ["London", "Paris", "Austin", "Berlin", "Houston", "Madrid", "Rome", "Oslo"]
    streets = ["Main Street", "Baker Street", "Oxford Road", "Elm Avenue"]
    for values in (companies, cities, streets):
        assert classify(None, values)[0] != "person_name"


def test_a_name_header_over_company_values_stays_low() -> None:
    t, conf, _ = classify("name", ["Acme Inc", "Globex Corp", "Initech LLC"])
    assert t != "person_name" and conf < CONFIDENT


@pytest.mark.parametrize("header", ["Address", "Street Address", None])
def test_street_addresses(header: str | None) -> None:
    t, conf, field = classify(header, ADDRESSES)
    assert (t, field) == ("street_address", "address")
    assert (conf >= CONFIDENT) == (header is not None)


@pytest.mark.parametrize("region", sorted(PHONES))
def test_national_phone_formats(region: str) -> None:
    got = classify_column(name="Phone", values=pl.Series("v", PHONES[region] * 5), today=TODAY)
    assert got.pii_type == "intl_phone" and got.field == "phone"
    assert got.confidence >= CONFIDENT
    assert got.evidence["share.national_format"] == 1.0


def test_phone_country_inferred_from_values() -> None:
    us = classify_column(name="tel", values=pl.Series("v", PHONES["US"] * 5), today=TODAY)
    de = classify_column(name="tel", values=pl.Series("v", PHONES["DE"] * 5), today=TODAY)
    assert us.evidence["phone_country_code"] == 1 and de.evidence["phone_country_code"] == 49


@pytest.mark.parametrize(
    ("values", "region", "tied"),
    [
        (["020 7946 0958", "0161 496 0123", "0113 496 0456", "0117 496 0789"], 44, 0),
        (["98765 43210", "91234 56789", "70123 45678", "62345 67890"], 91, 0),
        (["02 2345 6789", "0912 345 678", "04 2234 5678"], 886, 0),  # not French
        (["010-2000-4828", "02-212-4471", "010-2000-1234"], 82, 0),  # not Italian
        (["6123 4567", "8123 4567", "9123 4567"], 65, 1),  # Hong Kong writes them alike
    ],
)
def test_phone_region_told_by_layout_or_said_to_be_a_guess(
    values: list[str], region: int, tied: int
) -> None:
    """Valid in several regions: the one that writes the numbers this way wins; when two
    write them alike, ``phone_regions_tied`` says so (the import then asks)."""
    got = classify_column(name="tel", values=pl.Series("v", values * 5), today=TODAY)
    assert got.evidence["phone_country_code"] == region
    assert got.evidence["phone_regions_tied"] == tied


def test_chinese_service_numbers_stay_chinese() -> None:
    """400 / 800 numbers are valid Chinese numbers written without the trunk 0: a tie with
    another region's reading stays Chinese (the import then reads them as before)."""
    for first in ("400", "800"):
        values = [f"{first}-{i:03d}-{(i * 37) % 10000:04d}" for i in range(100, 160)]
        got = classify_column(name="电话", values=pl.Series("v", values), today=TODAY)
        assert got.evidence["phone_country_code"] == 86 and got.pii_type != "intl_phone"


def test_phones_with_country_codes_and_mixed() -> None:
    values = ["+1 201 555 0123", "+44 20 7946 0958", "(212) 736-5000", "+49 30 12345678"]
    assert classify("Phone", values)[0] == "intl_phone"


def test_header_only_phone_stays_low() -> None:
    _, conf, _ = classify("Phone", ["call me", "n/a", "ask Bob"])
    assert conf < 0.5


def test_dates_are_not_taken_for_german_phones() -> None:
    assert classify(None, ["20240105", "20231231", "20220704"])[0] == "date"
    assert classify(None, ["05.01.2024", "31.12.2023", "04.07.2022"])[0] == "date"


def test_chinese_landlines_stay_chinese() -> None:
    values = ["010-62345678", "0755-1234567", "021-62345678", "020-87654321"]
    assert classify("电话", values)[0] == "cn_landline"


def test_ssn_grouped_and_bare_under_header() -> None:
    grouped = ["123-45-6789", "234-56-7890", "078-05-1121", "345-67-8901"]
    assert classify(None, grouped)[0] == "us_ssn"
    assert classify("SSN", grouped)[1] >= CONFIDENT
    bare = [g.replace("-", "") for g in grouped]
    assert classify("SSN", bare)[0] == "us_ssn"
    assert classify(None, bare)[0] != "us_ssn"  # nine digits alone are not an SSN
    invalid = ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567"]
    assert classify(None, invalid)[0] != "us_ssn"


def test_passports_and_licences_need_a_header() -> None:
    passports = ["123456789", "AB1234567", "12AB34567", "X12345678"]
    assert classify("Passport Number", passports)[:1] == ("passport",)
    assert classify("Passport Number", passports)[1] >= CONFIDENT
    assert classify(None, passports)[0] != "passport"
    licences = ["D1234567", "MORGA657054SM9IJ", "123456789", "A123-4567-8901"]
    assert classify("Driver License", licences)[0] == "driving_licence"
    assert classify(None, licences)[0] != "driving_licence"
    assert classify("License Plate", ["京A12345", "粤BD12345"])[0] == "license_plate"


def test_chinese_passports_stay_chinese_under_a_passport_header() -> None:
    assert classify("Passport No.", ["E12345678", "EA1234567", "G12345678"])[0] == "cn_passport"


def test_vin_check_digit_alone_and_shape_under_header() -> None:
    vins = ["1M8GDM9AXKP042788", "1HGCM82633A004352"]
    assert classify(None, vins)[0] == "vin"
    european = ["WVWZZZ1JZXW000001", "VF1AB000123456789"]  # no check digit
    assert classify(None, european)[0] != "vin"
    assert classify("VIN", european)[0] == "vin"


def test_age_by_header_and_by_distribution() -> None:
    rng = random.Random(7)
    ages = [str(rng.randint(18, 85)) for _ in range(300)]
    assert classify("Age", ages)[0] == "age" and classify("Age", ages)[1] >= CONFIDENT
    assert classify("Age", [int(a) for a in ages])[0] == "age"
    assert classify(None, ages)[0] == "age"
    quantities = [str(rng.randint(1, 5)) for _ in range(300)]
    assert classify(None, quantities)[0] == "quantity"
    assert classify("Age", ["150", "-2", "300", "45"])[0] != "age"


@pytest.mark.parametrize("codes", [["M", "W", "X", "O"], ["Men", "Women"], ["male", "female"],
                                   ["男", "女"], ["M", "F"]])  # fmt: skip
def test_gender_codes(codes: list[str]) -> None:
    t, conf, field = classify("Gender", codes * 3)
    assert (t, field) == ("gender", "gender") and conf >= CONFIDENT
    assert classify(None, codes * 3)[0] == "gender"


def test_gender_coded_one_two_needs_the_header() -> None:
    assert classify("Gender", ["1", "2", "2", "1"] * 3)[0] == "gender"
    assert classify("sex", [1, 2, 2, 1] * 3)[0] == "gender"
    assert classify(None, ["1", "2", "2", "1"] * 3)[0] != "gender"


def test_day_month_order_resolved_per_column() -> None:
    us = pl.Series(["5/3/1985", "12/25/1990", "1/1/2000"])
    ok, days = parse_dates(us)
    assert ok.all() and pl.Series(days).cast(pl.Date).to_list()[0] == date(1985, 5, 3)
    eu = pl.Series(["5/3/1985", "25/12/1990", "1/1/2000"])
    ok, days = parse_dates(eu)
    assert ok.all() and pl.Series(days).cast(pl.Date).to_list()[0] == date(1985, 3, 5)
    got = classify_column(name="DOB", values=us, today=TODAY)
    assert got.pii_type == "date_of_birth" and got.evidence["date_order"] == 2
    dotted = classify_column(name=None, values=pl.Series(["25.12.1990", "5.3.1985"]), today=TODAY)
    assert dotted.evidence["date_order"] == 1


def test_day_month_order_says_whether_the_values_showed_it() -> None:
    """``date_order_shown``: the share of D/M values with a day above 12 on the side chosen;
    0 when only the separators chose (a guess the import refuses)."""
    shown = classify_column(
        name="DOB", values=pl.Series(["5/3/1985", "12/25/1990", "1/1/2000", "7/30/1969"]),
        today=TODAY,
    )  # fmt: skip
    assert shown.evidence["date_order"] == 2 and shown.evidence["date_order_shown"] == 0.5
    assert shown.evidence["day_month_values"] == 4
    guessed = classify_column(
        name="DOB", values=pl.Series(["5/3/1985", "12/11/1990", "1/1/2000"]), today=TODAY
    )
    assert guessed.evidence["date_order"] == 2 and guessed.evidence["date_order_shown"] == 0
    iso = classify_column(name="DOB", values=pl.Series(["1985-03-05", "1990-12-25"]), today=TODAY)
    assert "date_order" not in iso.evidence


def test_birth_dates_in_month_day_year() -> None:
    rng = random.Random(3)
    values = [
        f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(1940, 2005)}" for _ in range(200)
    ]
    assert classify(None, values)[0] == "date_of_birth"


def test_columns_embedding_emails_are_contact_data() -> None:
    values = ["John Smith <john@a.example>", "Mary <mary@b.example>", "x@c.example",
              "Bob Stone <bob@d.invalid>", "n/a"]  # fmt: skip
    got = classify_column(name=None, values=pl.Series("v", values * 4), today=TODAY)
    assert got.pii_type == "contact_email" and got.category.value == "contact"
    assert got.field is None  # the e-mail field keeps bare addresses only
    assert "john" not in str(got.evidence)
