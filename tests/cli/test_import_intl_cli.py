"""`dealvault import --dry-run` on an English-header export: what is mapped from the values,
how its phones and dates are read, what needs a decision and why, and the threshold
explained."""

from __future__ import annotations

from pathlib import Path

from dealvault.cli.main import app  # noqa: F401 - loads the commands the helpers run
from tests.cli.test_cli import env, jrun, run, setup_deal  # noqa: F401 - env is a fixture

ROWS = [
    ("John Smith", "(201) 555-0123", "123 Main St, Springfield IL 62704", "M", "5/3/1985",
     "john.smith@mail.example", "Acme Inc", "4"),
    ("Mary Johnson", "202-555-0187", "10 Downing Street, London SW1A 2AA", "W", "12/25/1990",
     "mary.j@mail.example", "Globex Corp", "1"),
    ("Robert O'Brien", "(415) 555-0199", "742 Evergreen Terrace", "M", "1/17/1972",
     "rob@mail.example", "Initech LLC", "2"),
    ("Anna Müller", "212-736-5000", "Hauptstraße 5, 10115 Berlin", "W", "7/30/1969",
     "anna@mail.example", "Umbrella Group", "3"),
    ("Priya Sharma", "650 555 0142", "12 rue de la Paix 75002 Paris", "X", "11/2/2001",
     "priya@mail.example", "Stark Ltd", "1"),
]  # fmt: skip
HEADERS = ("Contact", "Tel.", "Where", "Gender", "Born", "E-mail", "company_name", "Visits")


def _csv(path: Path) -> Path:
    lines = [",".join(HEADERS)]
    for i in range(8):
        for row in ROWS:
            cells = [f'"{c}"' if "," in c else c for c in row]
            cells[5] = cells[5].replace("@", f"{i}@")
            lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_dry_run_maps_strong_values_and_asks_about_the_rest(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    setup_deal()
    path = _csv(tmp_path / "customers_en.csv")
    preview = jrun("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run")
    assert isinstance(preview, dict)
    cols, by = preview["columns"], preview["mapped_by"]
    # names under an unknown header: found from the values; an address under "Where" too
    found = preview["classified"]
    assert found["Contact"]["pii_type"] == "person_name"
    assert found["Where"]["pii_type"] == "street_address"
    assert found["company_name"]["pii_type"] != "person_name"
    # header + values: mapped by the header
    assert cols["E-mail"] == "email" and by["E-mail"] == "header"
    # strong values without +CC in the US layout: mapped, read as US numbers
    pending = preview["needs_decision"]
    assert cols["Tel."] == "phone" and by["Tel."] == "values" and "Tel." not in pending
    assert preview["read_as"]["Tel."] == {
        "phone_region": "US",
        "evidence": "phones: US national format, 100% valid",
    }
    assert preview["refused"] == {}
    # names found from values alone stay below the threshold: asks, says why
    assert cols["Contact"] is None
    assert "below 0.90" in pending["Contact"]["reason"]
    # M/D/Y birth dates found from the values alone: below the threshold, asks
    assert found["Born"]["pii_type"] == "date_of_birth"
    assert cols["Born"] is None and pending["Born"]["field"] == "birth_date"
    assert "--map 'Born=birth_date'" in pending["Born"]["how"]
    assert "dealvault columns override 'Born'" in pending["Born"]["how"]
    assert preview["threshold"]["confidence"] == 0.9
    assert "0.45" in preview["threshold"]["rule"]
    raw = run("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run")
    human = " ".join(raw.split())
    assert "needs a decision: person_name" not in human
    assert "needs a decision: Born:" in human and "needs a decision: Tel.:" not in human
    assert "(values);" in human and "phones: US" in human  # in the field column
    assert "threshold:" in human and "0.90" in human
    assert "John" not in human and "555" not in human  # headers and figures only
    # deciding: --map makes it so, and the column no longer asks
    chosen = jrun(
        "import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run",
        "--map", "Contact=name", "--map", "Born=birth_date",
    )  # fmt: skip
    assert isinstance(chosen, dict)
    assert chosen["columns"]["Contact"] == "name" and chosen["mapped_by"]["Contact"] == "--map"
    assert "Contact" not in chosen["needs_decision"]
    # the birth dates are read in the order their values show (12/25/1990: month first)
    assert chosen["read_as"]["Born"]["date_order"] == "MDY"
    assert chosen["read_as"]["Born"]["evidence"].startswith("dates: M/D/Y, ")
    assert "Visits" not in preview["needs_decision"]  # not personal: kept, not asked about


def test_value_mapping_checks_what_the_field_accepts(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Strong values the normaliser takes are mapped; a layout it refuses is asked about."""
    setup_deal()
    path = tmp_path / "plus.csv"
    lines = ["Who,Reach,Inbox"]
    for i in range(40):
        lines.append(f"Client {i},+44 20 7946 {i:04d},user{i}@mail.example")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    preview = jrun("import", str(path), "--deal", "d1", "--dataset", "crm", "--dry-run")
    assert isinstance(preview, dict)
    assert preview["columns"]["Reach"] == "phone"
    assert preview["mapped_by"]["Reach"] == "values"
    assert preview["columns"]["Inbox"] == "email" and preview["mapped_by"]["Inbox"] == "values"
    done = jrun("import", str(path), "--deal", "d1", "--dataset", "crm")
    assert isinstance(done, dict)
    assert done["rows_imported"] == 40 and done["rows_rejected"] == 0
    assert done["mapping"]["Reach"] == "phone"
