"""Every file a command reads or writes, and how it fails when the file is bad: the tables
tests/cli/test_every_command_files.py runs (arguments filled in as in command_cases.py, with
``{file}`` the bad input and ``{out}`` the bad output path)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.cli.command_cases import CRM, D1, DISCLOSE, PLAN, RECEIVE, VIEW, swap
from tests.cli.command_world import COUNSEL, ROWS, STEWARD2
from tests.cli.seller import OPERATOR, STEWARD, TRAINER
from tests.vault.helpers import HEADERS

#: every way an input file can be bad, and the exit code a command gives for it by default:
#: 2, bad input (docs/cli.md), naming the file
BAD_INPUT = {"missing": 2, "directory": 2, "loop": 2, "unreadable": 2, "empty": 2, "corrupt": 2}
#: every way an output path can be bad: its directory missing, a directory in its place, a
#: file where its directory should be, a read-only directory (``exists``: where refused)
BAD_OUTPUT = {"no_dir": 2, "a_dir": 2, "under_file": 2, "read_only": 2}


@dataclass(frozen=True)
class Reads:
    """``command`` reading the file ``{file}`` in ``args``, run as ``actor``; ``codes``: the
    exit code for each bad kind of file (a kind left out is no failure for this file). A
    table file may have a ``bad_row`` (its content), refused naming ``names_row``."""

    command: str
    args: tuple[str, ...]
    actor: str | None = STEWARD
    codes: dict[str, int] = field(default_factory=lambda: dict(BAD_INPUT))
    bad_row: bytes = b""
    names_row: tuple[str, ...] = ()


@dataclass(frozen=True)
class Writes:
    """``command`` writing ``{out}`` (named ``name``: its suffix may choose the format)."""

    command: str
    args: tuple[str, ...]
    actor: str | None = STEWARD
    name: str = "out.csv"
    codes: dict[str, int] = field(default_factory=lambda: dict(BAD_OUTPUT))


def _but(base: dict[str, int], **changes: int | None) -> dict[str, int]:
    """``base`` with some codes changed (None: that kind is no failure here)."""
    out = dict(base)
    for kind, code in changes.items():
        if code is None:
            out.pop(kind)
        else:
            out[kind] = code
    return out


#: a private key file: not there is not found (3); anything else, the key cannot be had (7);
#: not readable, click refuses it first (2, a usage error naming it)
KEY_FILE = {**dict.fromkeys(BAD_INPUT, 7), "missing": 3, "unreadable": 2}
IDENTITY = _but(BAD_INPUT, missing=3)  # an age identity file (backups)
_CREATES_DIR = _but(BAD_OUTPUT, no_dir=None)  # the directory is made, parents too
NDA = ("--deal", "d1", "--org", "Bidder A", "--kind", "nda", "--title", "T",
       "--effective", "2026-01-05")  # fmt: skip

#: customers whose second row has a phone number one digit too long (customer 1's, a personal
#: value the message must not show)
_CUSTOMERS = "\n".join(
    [
        ",".join(HEADERS),
        *(",".join(r.values()) for r in (ROWS[1], {**ROWS[2], "手机号": ROWS[0]["手机号"] + "1"})),
    ]
).encode()
_TRAINING = f"email,course,completed,expires\n{STEWARD2},confidentiality,2026-13-01,\n".encode()

READS: dict[str, Reads] = {
    "import FILE": Reads(
        "import",
        ("{file}", "--deal", "d1", "--dataset", "x1", "--strict"),
        codes={**BAD_INPUT, "bad_row": 2},
        bad_row=_CUSTOMERS,
        names_row=("row 2", "column '手机号'"),
    ),
    "import --mapping": Reads(
        "import", ("{W}/crm.csv", "--deal", "d1", "--dataset", "x2", "--mapping", "{file}")
    ),
    "import --sql-url-file": Reads(
        "import", ("--sql-url-file", "{file}", "--query", "select 1", "--deal", "d1")
    ),
    "trace FILE": Reads("trace", ("{file}", "--deal", "d1")),
    "audit verify --verifier-key-file": Reads(
        "audit verify", ("--verifier-key-file", "{file}"), OPERATOR
    ),
    "audit verify --known-checkpoint": Reads(
        "audit verify", ("--known-checkpoint", "{file}"), OPERATOR
    ),
    "audit verify-bundle --verifier-key-file": Reads(
        "audit verify-bundle", ("{W}/bundle", "--verifier-key-file", "{file}"), None
    ),
    "audit verify-bundle --known-checkpoint": Reads(
        "audit verify-bundle", ("{W}/bundle", "--known-checkpoint", "{file}"), None
    ),
    "login --ca-file": Reads(
        "login", ("--server", "https://127.0.0.1:1", "--token-stdin", "--ca-file", "{file}"), None
    ),
    "serve --tls-cert": Reads(
        "serve", ("--tls-cert", "{file}", "--tls-key", "{W}/tls.key"), OPERATOR
    ),
    "serve --tls-key": Reads(
        "serve", ("--tls-cert", "{W}/tls.crt", "--tls-key", "{file}"), OPERATOR, KEY_FILE
    ),
    "audit cosign --key": Reads("audit cosign", ("--key", "{file}"), OPERATOR, KEY_FILE),
    "audit key import --file": Reads("audit key import", ("--file", "{file}"), OPERATOR, KEY_FILE),
    # any bytes are a document: a corrupt one is not refused
    "agreement add --document": Reads(
        "agreement add", (*NDA, "--document", "{file}"), codes=_but(BAD_INPUT, corrupt=None)
    ),
    "training import FILE": Reads(
        "training import",
        ("{file}",),
        TRAINER,
        {**BAD_INPUT, "bad_row": 2},
        _TRAINING,
        ("row 1", "column 'completed'"),
    ),
    "consent import FILE": Reads(
        "consent import",
        ("{file}", *CRM),
        codes={**BAD_INPUT, "bad_row": 2},
        bad_row=b"customer_key,purpose,given_at,source\nC000001,adverts,2026-01-02,web\n",
        names_row=("row 2", "column 'purpose'"),
    ),
    "policy validate FILE": Reads("policy validate", ("{file}",), None),
    "policy set FILE": Reads("policy set", ("{file}", "--deal", "d1", "--comment", "c")),
    "monitor rules validate FILE": Reads("monitor rules validate", ("{file}",), None),
    "compliance rules --file": Reads("compliance rules", ("--file", "{file}"), None),
    "incident clocks --set": Reads("incident clocks", ("1", "--set", "{file}")),
    "incident notice draft --answers": Reads(
        "incident notice draft",
        ("1", "--kind", "pipl-authority", "--answers", "{file}"),
        codes=_but(BAD_INPUT, empty=None),
    ),
    "incident notice status FILE": Reads(
        "incident notice status",
        ("1", "{file}"),
        codes={**BAD_INPUT, "bad_row": 2},
        bad_row=b"delivery_id,status,at\n1-000001,lost,2026-12-07T10:00:00Z\n",
        names_row=("row 2", "column 'status'"),
    ),
    "plan notice-status FILE": Reads(
        "plan notice-status",
        ("3", "{file}"),
        codes={**BAD_INPUT, "bad_row": 2},
        bad_row=b"delivery_id,status,at\n2-000001,lost,2026-12-07T10:00:00Z\n",
        names_row=("row 2", "column 'status'"),
    ),
    # a file that is no signed partner notice does not verify (6)
    "incident notice verify FILE": Reads(
        "incident notice verify",
        ("{file}", "--key", "{vkey}"),
        None,
    ),
    "monitor rules set FILE": Reads("monitor rules set", ("{file}", "--comment", "c"), OPERATOR),
    "backup verify FILE": Reads("backup verify", ("{file}",), OPERATOR, _but(BAD_INPUT, missing=3)),
    "backup verify --identity": Reads(
        "backup verify", ("{backup}", "--identity", "{file}"), OPERATOR, IDENTITY
    ),
    # an empty or corrupt backup cannot be decrypted: damaged (6)
    "backup restore FILE": Reads(
        "backup restore",
        ("{file}", "--identity", "{W}/age.key", "--to", "{T}/r"),
        OPERATOR,
        _but(BAD_INPUT, missing=3, empty=6, corrupt=6),
    ),
    "backup create --identity": Reads(
        "backup create",
        ("--recipient", "{age1}", "--out", "{T}/b", "--identity", "{file}"),
        OPERATOR,
        IDENTITY,
    ),
    "certificate issue --subjects-file": Reads(
        "certificate issue", ("--deal", "d1", "--subjects-file", "{file}", "--yes")
    ),
    # SOURCE is a note file or a certificate's number: a path that is neither is not found; a
    # note naming no deal of this store is a file from elsewhere (the operator's to verify)
    "certificate verify FILE": Reads(
        "certificate verify",
        ("{file}",),
        OPERATOR,
        _but(BAD_INPUT, missing=3, directory=3, loop=3, empty=6, corrupt=6),
    ),
    "plan create --recipients-file": Reads(
        "plan create", (*PLAN[:-2], "--recipients-file", "{file}")
    ),
    "package verify --identity": Reads(
        "package verify", ("{W}/pkg", "--identity", "{file}"), OPERATOR
    ),
    "package receive --identity": Reads("package receive", swap(RECEIVE, "{W}/age.key", "{file}")),
    # an empty or corrupt canary list is not signed by the package's signer (6)
    "package receive --canaries": Reads(
        "package receive",
        swap(RECEIVE, "{W}/pkg.canaries", "{file}"),
        codes=_but(BAD_INPUT, empty=6, corrupt=6),
    ),
    "package review --report": Reads("package review", ("1", "--report", "{file}"), COUNSEL),
    # the word list of the content review: an empty or corrupt one is refused, named (2)
    "compliance review --words": Reads("compliance review", ("1", "--words", "{file}")),
    "disclose --hierarchy": Reads(
        "disclose",
        (*swap(DISCLOSE, "aggregate", "anonymized"), "--qi", "age", "--hierarchy", "age={file}"),
    ),
}
#: every way a directory to read can be bad: missing, empty, a corrupt file in its place, a
#: symlink loop; an audit bundle or a package so bad is not found (3) or broken (6)
BAD_DIR = {"missing": 3, "empty": 3, "corrupt": 3, "loop": 3}
PACKAGE_DIR = _but(BAD_DIR, empty=6, corrupt=2)
READS_DIR: dict[str, Reads] = {
    "audit verify-bundle DIR": Reads("audit verify-bundle", ("{file}",), None, BAD_DIR),
    "package verify DIR": Reads(
        "package verify", ("{file}", "--identity", "{W}/age.key"), OPERATOR, PACKAGE_DIR
    ),
    "package receive DIR": Reads(
        "package receive", swap(RECEIVE, "{W}/pkg", "{file}"), codes=PACKAGE_DIR
    ),
}

WRITES: dict[str, Writes] = {
    "incident notice customers --out": Writes(
        "incident notice customers", ("1", "--channel", "sms", "--out", "{out}")
    ),
    "plan notify --out": Writes(
        "plan notify", ("3", "--channel", "sms", "--contact", "service desk", "--out", "{out}")
    ),
    "incident notice show --out": Writes(
        "incident notice show", ("2", "--out", "{out}"), name="notice.html"
    ),
    "incident notice partner --out": Writes(
        "incident notice partner", ("1", "--contact", "desk", "--out", "{out}"), name="p.note"
    ),
    "rejects --out": Writes("rejects", ("1", *D1, "--out", "{out}")),
    "inventory --html": Writes("inventory", (*CRM, "--html", "{out}"), name="inventory.html"),
    "disclose --out": Writes("disclose", (*DISCLOSE, "--out", "{out}")),
    "view --out": Writes("view", (*VIEW, "--out", "{out}")),
    "audit prove --out": Writes("audit prove", ("3", "--out", "{out}"), OPERATOR, "e3.tlog-proof"),
    "audit report OUT": Writes("audit report", ("{out}",), OPERATOR, "report.html"),
    "incident report OUT": Writes("incident report", ("1", "{out}"), name="incident.html"),
    "compliance report OUT": Writes("compliance report", ("1", "{out}"), name="compliance.html"),
    "compliance pia export OUT": Writes("compliance pia export", ("1", "{out}"), name="pia.html"),
    "drill run --report": Writes(
        "drill run", ("--customers", "20", "--report", "{out}"), OPERATOR, "drill.html"
    ),
    "drill show --report": Writes("drill show", ("1", "--report", "{out}"), OPERATOR, "drill.html"),
    "audit cosigner-key --out": Writes(
        "audit cosigner-key",
        ("x.example/w", "--out", "{out}"),
        None,
        "w.key",
        _but(BAD_OUTPUT, exists=2),
    ),
    "agreement document --out": Writes(
        "agreement document",
        ("1", "--out", "{out}"),
        name="nda.pdf",
        codes=_but(BAD_OUTPUT, exists=5),
    ),
    "certificate issue --out": Writes(
        "certificate issue",
        ("--deal", "d2", "--org", "Bidder A", "--method", "returned", "--yes", "--out", "{out}"),
        name="cert.note",
    ),
    "package build --out": Writes(
        "package build", ("1", "--out", "{out}"), name="pkg", codes=_but(BAD_OUTPUT, exists=2)
    ),
    "package fetch --out": Writes("package fetch", ("1", "--out", "{out}"), name="pkg.tar"),
    "package canaries --out": Writes(
        "package canaries",
        ("1", "--out", "{out}"),
        name="c.canaries",
        codes=_but(BAD_OUTPUT, exists=2),
    ),
    "package verify --report-json": Writes(
        "package verify",
        ("{W}/pkg", "--identity", "{W}/age.key", "--report-json", "{out}"),
        OPERATOR,
        "r.json",
    ),
    "package verify --report-html": Writes(
        "package verify",
        ("{W}/pkg", "--identity", "{W}/age.key", "--report-html", "{out}"),
        OPERATOR,
        "r.html",
    ),
    "package receive --report-json": Writes(
        "package receive", (*RECEIVE, "--report-json", "{out}"), name="r.json"
    ),
    "package receive --report-html": Writes(
        "package receive", (*RECEIVE, "--report-html", "{out}"), name="r.html"
    ),
    # directories
    "audit export OUT": Writes(
        "audit export", ("{out}",), OPERATOR, "bundle", _but(_CREATES_DIR, exists=2)
    ),
    "backup create --out": Writes(
        "backup create",
        ("--recipient", "{age1}", "--out", "{out}"),
        OPERATOR,
        "b",
        _but(_CREATES_DIR, a_dir=None, exists=2),
    ),
    "backup restore --to": Writes(
        "backup restore",
        ("{backup}", "--identity", "{W}/age.key", "--to", "{out}"),
        OPERATOR,
        "r",
        _but(_CREATES_DIR, a_dir=None, exists=2),
    ),
    "retention run --certificates": Writes(
        "retention run",
        ("--deal", "d1", "--certificates", "{out}"),
        name="certs",
        codes=_but(_CREATES_DIR, a_dir=None),
    ),
    # (a file as --out is a usage error: click's file_okay=False)
    "synth --out": Writes(
        "synth", ("--rows", "2", "--out", "{out}"), None, "s", _but(_CREATES_DIR, a_dir=None)
    ),
}
