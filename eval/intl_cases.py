"""Labelled international columns (invented values): Latin names, street addresses, national
phones, SSN, passports, driving licences, VIN, ages, gender codes, D/M/Y and M/D/Y dates,
"Name <e-mail>" contacts, and things that are not persons (companies)."""

from __future__ import annotations

import numpy as np
import phonenumbers
from cases import Case, Rng, digits

PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "JP", "SG", "HK", "TW")
# Given names and surnames partly outside the classifier's lists (the shape must carry them).
GIVEN = ("James", "Mary", "Olivia", "Liam", "Noah", "Emma", "Sophia", "Lucas", "Hannah", "Raj",
         "Thandiwe", "Aurelio", "Bronwen", "Ksenia", "Oluwaseun", "Tiago", "Ingeborg", "Dmitri",
         "Siobhan", "Mateus", "Yusuf", "Leilani", "Anneliese", "Caoimhe")  # fmt: skip
SURNAMES = (
    "Smith",
    "Johnson",
    "Garcia",
    "Müller",
    "Dubois",
    "Rossi",
    "Patel",
    "Nguyen",
    "O'Brien",
    "Kowalczyk",
    "Okonkwo",
    "Van der Merwe",
    "Fitzgerald",
    "Haddad",
    "Lindqvist",
    "Papadopoulos",
    "MacLeod",
    "Oyelaran",
    "Castellanos",
    "Brennan",
)
STREETS = ("Main", "Oak", "Maple", "Park", "Cedar", "Elm", "Washington", "Lake", "Hill", "Pine")
SUFFIXES = ("St", "Street", "Ave", "Avenue", "Rd", "Road", "Lane", "Drive", "Blvd", "Way")
TOWNS = ("Springfield IL 62704", "Austin TX 73301", "London SW1A 2AA", "Leeds LS1 4AP",
         "Manchester M1 1AE", "Denver CO 80202")  # fmt: skip
DE_STREETS = ("Haupt", "Bahnhof", "Schiller", "Goethe", "Garten", "Kirch", "Linden", "Berg")
DE_TOWNS = ("Berlin", "München", "Hamburg", "Köln", "Leipzig", "Dresden")
FR_STREETS = ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue du Bac",
              "place de la République", "rue Lepic")  # fmt: skip
COMPANIES = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Oscorp",
)
COMPANY_SUFFIX = ("Inc", "Ltd", "LLC", "GmbH", "Corp", "Group", "Holdings", "plc")


def _pick(rng: Rng, items: tuple[str, ...]) -> str:
    return items[int(rng.integers(0, len(items)))]


def national_phones(rng: Rng, n: int, region: str) -> list[str]:
    """Valid numbers of one region in its national layout (mobile and fixed line)."""
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    out: list[str] = []
    while len(out) < n:
        example = phonenumbers.example_number_for_type(region, kinds[len(out) % 2])
        assert example is not None
        national = str(example.national_number)
        tail = digits(rng, 1, 6)[0]
        cand = phonenumbers.parse(f"+{example.country_code}{national[:-6]}{tail}")
        if phonenumbers.is_valid_number(cand):
            out.append(phonenumbers.format_number(cand, phonenumbers.PhoneNumberFormat.NATIONAL))
    return out


def person_names(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        g, s = _pick(rng, GIVEN), _pick(rng, SURNAMES)
        out.append(f"{s.upper()}, {g}" if i % 7 == 0 else f"{g} {s}")
    return out


def addresses(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        k = int(rng.integers(1, 999))
        form = i % 3
        if form == 0:
            town = f", {_pick(rng, TOWNS)}" if rng.random() < 0.6 else ""
            out.append(f"{k} {_pick(rng, STREETS)} {_pick(rng, SUFFIXES)}{town}")
        elif form == 1:
            plz = int(rng.integers(10000, 99999))
            out.append(f"{_pick(rng, DE_STREETS)}straße {k % 200}, {plz} {_pick(rng, DE_TOWNS)}")
        else:
            cp = int(rng.integers(75001, 75020))
            out.append(f"{k % 150} {_pick(rng, FR_STREETS)} {cp} Paris")
    return out


def ssns(rng: Rng, n: int, *, grouped: bool = True) -> list[str]:
    out = []
    while len(out) < n:
        a, g, s = int(rng.integers(1, 900)), int(rng.integers(1, 100)), int(rng.integers(1, 10000))
        if a == 666:
            continue
        out.append(f"{a:03d}-{g:02d}-{s:04d}" if grouped else f"{a:03d}{g:02d}{s:04d}")
    return out


def intl_passports(rng: Rng, n: int) -> list[str]:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    forms = (
        lambda: digits(rng, 1, 9)[0],  # US / UK
        lambda: _pick(rng, tuple(letters)) + digits(rng, 1, 8)[0],  # US next generation
        lambda: "".join(_pick(rng, tuple(letters)) for _ in range(2)) + digits(rng, 1, 7)[0],
        lambda: (
            digits(rng, 1, 2)[0]
            + "".join(_pick(rng, tuple(letters)) for _ in range(2))
            + digits(rng, 1, 5)[0]
        ),  # FR
    )
    return [forms[i % len(forms)]() for i in range(n)]


def licences(rng: Rng, n: int) -> list[str]:
    out = []
    for i in range(n):
        if i % 2:
            out.append(_pick(rng, tuple("ABCDEFGHKLMNPRSTWY")) + digits(rng, 1, 7)[0])
        else:
            sur = "".join(_pick(rng, tuple("ABCDEFGHKLMNPRSTWY")) for _ in range(5))
            out.append(f"{sur}{digits(rng, 1, 6)[0]}AB{int(rng.integers(0, 10))}CD")
    return out


VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_VALUE = {**{str(i): i for i in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
             **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
             **dict(zip("STUVWXYZ", range(2, 10), strict=True))}  # fmt: skip
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vins(rng: Rng, n: int) -> list[str]:
    out = []
    for _ in range(n):
        body = [_pick(rng, tuple(VIN_CHARS)) for _ in range(17)]
        body[0] = _pick(rng, tuple("12345JKLSTVWZ"))
        total = sum(VIN_VALUE[c] * w for c, w in zip(body, VIN_WEIGHTS, strict=True)) % 11
        body[8] = "X" if total == 10 else str(total)
        out.append("".join(body))
    return out


def ages(rng: Rng, n: int) -> list[str]:
    return [str(int(a)) for a in np.clip(rng.normal(42, 15, n), 18, 95)]


def mdy_birth_dates(rng: Rng, n: int, *, day_first: bool = False, sep: str = "/") -> list[str]:
    out = []
    for day in rng.integers(-12000, 12000, n):
        d = np.datetime64(int(day), "D").astype(object)
        a, b = (d.day, d.month) if day_first else (d.month, d.day)
        out.append(f"{a}{sep}{b}{sep}{d.year}")
    return out


def recent_dmy(rng: Rng, n: int) -> list[str]:
    out = []
    for day in rng.integers(19000, 20200, n):
        d = np.datetime64(int(day), "D").astype(object)
        out.append(f"{d.day:02d}.{d.month:02d}.{d.year}")
    return out


def contacts(rng: Rng, n: int) -> list[str]:
    out = []
    for i, name in enumerate(person_names(rng, n)):
        mail = f"user{i}@mail.example"
        out.append(f"{name} <{mail}>" if rng.random() < 0.7 else mail)
    return out


def companies(rng: Rng, n: int) -> list[str]:
    return [f"{_pick(rng, COMPANIES)} {_pick(rng, COMPANY_SUFFIX)}" for _ in range(n)]


def intl_cases(n: int) -> list[Case]:
    """International columns; their own generator, so the other cases stay as they were."""
    rng = np.random.default_rng(18)
    phones = [
        Case(f"intl/phones_{r.lower()}", national_phones(rng, n, r), "intl_phone",
             ("Phone", "tel", None), f"{r} numbers in the national layout, no +CC")
        for r in PHONE_REGIONS
    ]  # fmt: skip
    return [
        *phones,
        Case("intl/person_names", person_names(rng, n), "person_name",
             ("Full Name", "Customer", None), "Latin names, half outside the lists"),
        Case("intl/first_names", [_pick(rng, GIVEN) for _ in range(n)], "person_name",
             ("First Name", None), "given names only, repeating"),
        Case("intl/street_addresses", addresses(rng, n), "street_address",
             ("Address", "Where", None), "US / UK / DE / FR forms"),
        Case("intl/ssn", ssns(rng, n), "us_ssn", ("SSN", None), "ddd-dd-dddd"),
        Case("intl/ssn_bare", ssns(rng, n, grouped=False), "us_ssn", ("Social Security No",),
             "nine digits: the header decides"),
        Case("intl/passports", intl_passports(rng, n), "passport", ("Passport Number",),
             "US / UK / JP / FR formats"),
        Case("intl/driving_licences", licences(rng, n), "driving_licence",
             ("Driver License", "驾驶证号"), "UK DVLA and US state forms"),
        Case("intl/vins", vins(rng, n), "vin", ("VIN", None), "with check digit"),
        Case("intl/ages", ages(rng, n), "age", ("Age", None), "adults' ages as text"),
        Case("intl/gender_mwxo", [_pick(rng, ("M", "W", "X", "O")) for _ in range(n)],
             "gender", ("Gender", None), "M/W/X/O"),
        Case("intl/gender_men_women", [_pick(rng, ("Men", "Women")) for _ in range(n)],
             "gender", ("Sex", None), "Men/Women"),
        Case("intl/gender_codes", [_pick(rng, ("1", "2")) for _ in range(n)], "gender",
             ("Gender",), "ISO 5218 codes: the header decides"),
        Case("intl/birth_dates_mdy", mdy_birth_dates(rng, n), "date_of_birth",
             ("DOB", "Birth Date", None), "M/D/YYYY"),
        Case("intl/birth_dates_dmy", mdy_birth_dates(rng, n, day_first=True, sep="."),
             "date_of_birth", ("Geburtsdatum", None), "D.M.YYYY"),
        Case("intl/event_dates_dmy", recent_dmy(rng, n), "date", ("Order Date", None),
             "DD.MM.YYYY, last few years"),
        Case("intl/contacts", contacts(rng, n), "contact_email", ("Contact", None),
             "70% 'Name <e-mail>'"),
        Case("intl/company_names", companies(rng, n), None, ("company_name", None),
             "companies under a 'name' header: not persons"),
    ]  # fmt: skip
