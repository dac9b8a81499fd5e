"""A value from data or input cannot drive the terminal: control, C1 and bidi characters are
shown as visible escapes in tables, lookups, views, JSON and error messages."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dealvault.cli.main import app
from dealvault.cli.output import SafeConsole, json_text, kv_table, table, terminal_safe
from tests.cli.seller import seller_deal
from tests.cli.test_cli import env, jrun, run  # noqa: F401 - env is a fixture
from tests.vault.helpers import HEADERS, customer_row, write_csv

CLEAR = "\x1b[2J"  # erase the screen
HOME = "\x1b[H"  # cursor home
CSI8 = "\x9b31m"  # C1 control sequence introducer
RLO = "\u202e"  # right-to-left override
ISOLATE = "\u2066"  # left-to-right isolate
EVIL = f"ok{CLEAR}{HOME}\rfake line{RLO}txt.exe{ISOLATE}{CSI8}\x07"
#: What must never reach the terminal raw (Rich's own colour codes are ESC [ ... m).
RAW = re.compile("\x1b\\[[0-9;]*[A-HJKSTf]|[\r\x07\x9b\u202a-\u202e\u2066-\u2069]")


def raw_controls(text: str) -> list[str]:
    return RAW.findall(text)


def test_terminal_safe_escapes_every_dangerous_character() -> None:
    shown = terminal_safe(EVIL)
    assert shown == ("ok\\x1b[2J\\x1b[H\\x0dfake line\\u202etxt.exe\\u2066\\x9b31m\\x07")
    assert terminal_safe("a\nb") == "a\\x0ab" and terminal_safe("a\nb", newlines=True) == "a\nb"
    assert terminal_safe("张三 ünïcode \\ ok") == "张三 ünïcode \\ ok"  # nothing else changes
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, 0x200E, 0x061C]:
        assert chr(code) not in terminal_safe(chr(code)), hex(code)


@pytest.mark.parametrize("colour", [True, False])
def test_tables_and_prints_render_values_inert(colour: bool) -> None:
    buf = io.StringIO()
    console = SafeConsole(file=buf, force_terminal=colour, width=200)
    console.print(table(f"title {EVIL}", ["col", f"head{CLEAR}"], [[EVIL, None], ["[red]x", 1]]))
    console.print(kv_table(None, [(f"k{RLO}", EVIL)]))
    console.print(f"printed {EVIL}")
    out = buf.getvalue()
    assert raw_controls(out) == []
    assert "\\x1b[2J" in out and "\\u202e" in out and "\\x0d" in out
    assert "[red]x" in out  # a value is text, never markup
    # the plain Rich console would have let them through: the test can tell
    plain = io.StringIO()
    Console(file=plain, force_terminal=colour, width=200).print(f"printed {EVIL}")
    assert raw_controls(plain.getvalue())


def test_json_output_is_inert_and_round_trips() -> None:
    doc = {"name": EVIL, "中文": "姓名 ok"}
    text = json_text(doc)
    assert raw_controls(text) == [] and "\x1b" not in text
    assert json.loads(text) == doc  # JSON escapes: a script reads the exact values
    assert "姓名 ok" in text  # non-ASCII text stays readable


def _store_with_evil_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    seller_deal(run)
    note = f"备注{CLEAR}"  # a column header with an escape sequence
    rows = [customer_row(i, 地址=EVIL, 偏好产品=f"{RLO}evil") for i in range(1, 6)]
    for r in rows:
        r[note] = EVIL
    path = write_csv(tmp_path / "c.csv", rows, headers=[*HEADERS, note])
    run("import", str(path), "--deal", "d1", "--dataset", "crm")


def test_commands_print_data_values_escaped(
    env: dict[str, str],  # noqa: F811
    tmp_path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # whole cells on one line, to find the escapes
    _store_with_evil_values(tmp_path)
    base = ("--deal", "d1", "--dataset", "crm")
    outputs = {
        "lookup": run("lookup", "13900000002", *base, "--reveal"),
        "view": run("view", "--level", "full", *base, "--purpose", "escape test"),
        "disclose": run("disclose", "--level", "full", *base, "--purpose", "escape test"),
        "inventory": run("inventory", *base),
    }
    for name, out in outputs.items():
        assert raw_controls(out) == [], name
    for name in ("lookup", "view", "disclose"):
        assert "ok\\x1b[2J\\x1b[H\\x0dfake line\\u202etxt.exe" in outputs[name], name
    assert "备注\\x1b[2J" in outputs["inventory"]
    # the JSON of the same lookup carries the exact values, escaped the JSON way
    found = jrun("lookup", "13900000002", *base, "--reveal")
    assert found[0]["data"]["free_text"] == {f"备注{CLEAR}": EVIL}  # type: ignore[index]
    raw = CliRunner().invoke(app, ["lookup", "13900000002", *base, "--reveal", "--json"]).output
    assert raw_controls(raw) == []


def test_error_messages_escape_user_input(env: dict[str, str]) -> None:  # noqa: F811
    seller_deal(run)
    evil_file = f"missing{CLEAR}{RLO}.csv"  # error messages name files as they were given
    r = CliRunner().invoke(app, ["import", evil_file, "--deal", "d1", "--dataset", "crm"])
    assert r.exit_code == 2 and raw_controls(r.output) == []
    assert "missing\\x1b[2J\\u202e.csv: file not found" in r.output
    r = CliRunner().invoke(app, ["import", evil_file, "--deal", "d1", "--dataset", "crm", "--json"])
    line = r.output.strip().splitlines()[-1]
    assert raw_controls(line) == [] and json.loads(line)["error"] == "bad_input"
    assert evil_file in json.loads(line)["message"]  # exact for a script


def test_a_value_that_breaks_markup_does_not_crash_the_line() -> None:
    buf = io.StringIO()
    SafeConsole(file=buf, width=200).print(f"[bold]disclosure[/bold] to {'Evil[/] Co'}{CLEAR}")
    assert buf.getvalue() == "[bold]disclosure[/bold] to Evil[/] Co\\x1b[2J\n"
