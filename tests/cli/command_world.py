"""One seller's store with something of every kind, built once with the CLI, for the tests that
run every command (tests/cli/test_every_command*.py); a test that changes it works on a copy.

Deal d1 is at closing (winner Bidder A): dataset crm (8 customers and one rejected row,
import #1), an NDA with its signed document (agreement #1), the transfer agreement (#2) and
a clean-team agreement Bidder A's members accept online (#3, document SHA-256 ``{sha}``),
retention rule #1 (crm kept ten years), access request #1 pending and #2 approved (grant
#1), transfer plan #1 approved and built (package #1) with its impact assessment #1
(unsigned), plan #2 pending and plan #3 pending with its customers' PIPL art. 22 notices
(batch #2 by SMS, its first delivery failed). Deal d2 is terminated with destruction
certificate #1, d3 is at preparation and d4 is frozen. Alert #1 (deal d1): the clean team
asked above its ceiling.
Beside the store: a backup, an audit bundle, a cosigner key, the buyer's report, the age
identity the package and backup are encrypted to, and valid input files of each kind."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyrage
from typer.testing import CliRunner, Result

from dealvault.access.policy import default_policy
from dealvault.audit.note import generate_signer
from dealvault.cli.main import app
from dealvault.monitor.rules import default_rules
from tests.cli.seller import OPERATOR, STEWARD, seller_deal
from tests.vault.helpers import customer_row, write_csv

STEWARD2 = "steward2@seller.example"
COUNSEL = "counsel@law.example"
CLEAN = "clean@bidder.example"
STRANGER = "nobody@nowhere.invalid"  # registered nowhere
MASTER_KEY = "5e" * 32  # invented
#: what every command may print only masked, if at all (the customers of crm.csv)
ROWS = [customer_row(i) for i in range(1, 9)]
BAD_ROW = customer_row(9, 手机号="12345")  # rejected: not a phone number
PERSONAL = sorted(
    {
        v
        for r in [*ROWS, BAD_ROW]
        for k, v in r.items()
        if k in ("姓名", "身份证号", "手机号", "邮箱")
    }
    - {"12345"}
)
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
#: settings a command might pick up from the outer environment, cleared for every run
CLEARED = (
    "DEALVAULT_PASSPHRASE", "DEALVAULT_DATABASE_URL", "DEALVAULT_KEYSTORE_URL",
    "DEALVAULT_KEY_FILE", "DEALVAULT_AUDIT_KEY_FILE", "DEALVAULT_AUDIT_VERIFIER_KEY",
    "DEALVAULT_AUDIT_VERIFIER_KEY_FILE", "DEALVAULT_BACKUP_IDENTITY",
    "DEALVAULT_BACKUP_RECIPIENTS",
)  # fmt: skip


def _tls(work: Path) -> None:
    """A self-signed certificate and its key (0600) for ``serve --tls-cert/--tls-key``."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (work / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (work / "tls.key").write_bytes(pem)
    (work / "tls.key").chmod(0o600)


def environment(home: Path) -> dict[str, str | None]:
    """The environment every command of these tests runs in (``None``: unset)."""
    env: dict[str, str | None] = dict.fromkeys(CLEARED)
    env.update(
        DEALVAULT_HOME=str(home),
        DEALVAULT_KEY_PROVIDER="env",
        DEALVAULT_MASTER_KEY=MASTER_KEY,
        DEALVAULT_ACTOR=STEWARD,
        COLUMNS="200",
        # no mail server (port 1 is closed), and no sign-in to a server
        DEALVAULT_SMTP_HOST="127.0.0.1",
        DEALVAULT_SMTP_PORT="1",
        DEALVAULT_LOGIN_FILE=str(home.parent / "no-login.json"),
    )
    return env


def invoke(home: Path, *args: str) -> Result:
    """Run ``dealvault ARGS`` in-process against the store in ``home``."""
    return CliRunner().invoke(app, list(args), env=environment(home))


#: the incident team's answers for its notices (tests/incidents/test_legal_notices.py)
ANSWERS = """handler = "洁净日化有限公司"
cause = "外部人员获取了竞购方的副本"
harm = "可能收到诈骗电话"
measures_taken = "冻结交易，撤销访问"
individual_steps = "警惕冒充客服的来电"
contact = "400-000-0000"
"""


@dataclass(frozen=True)
class World:
    """Where everything is, and the values the command table fills in."""

    work: Path  # files beside the store
    home: Path  # the store
    values: dict[str, str]

    def copy(self, to: Path) -> World:
        """The same world in ``to`` (the store copied; the files beside it shared)."""
        shutil.copytree(self.home, to / "store")
        return World(work=self.work, home=to / "store", values=self.values)


def build(work: Path) -> World:
    """Build the world in ``work`` (about three seconds)."""
    home = work / "store"

    def run(*args: str, who: str = STEWARD) -> Any:
        result = invoke(home, "--as", who, *args)
        assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
        return json.loads(result.stdout) if "--json" in args else result.stdout

    op = {"who": OPERATOR}
    seller_deal(lambda *a: run(*a[2:], who=a[1]))  # seller_deal passes "--as", WHO first
    run("org", "add", "Law LLP", "--kind", "law_firm", **op)
    for email, org in ((COUNSEL, "Law LLP"), (STEWARD2, "Seller Co"), (CLEAN, "Bidder A")):
        run("person", "add", email, "--name", "X", "--org", org, **op)
    run("deal", "add-party", "d1", "--org", "Law LLP", "--role", "counsel")
    for email, role in (
        (COUNSEL, "counsel"),
        (STEWARD2, "seller_steward"),
        (CLEAN, "bidder_clean_team"),
    ):
        run("deal", "add-member", "d1", "--person", email, "--role", role)
    crm = write_csv(work / "crm.csv", [*ROWS, BAD_ROW])
    run("import", str(crm), "--deal", "d1", "--dataset", "crm")
    subject = run("lookup", ROWS[0]["手机号"], "--deal", "d1", "--dataset", "crm", "--json")
    # retention rule #1: crm kept ten years, reviewed every 90 days
    run("retention", "set", "--deal", "d1", "--dataset", "crm", "--keep-days", "3650",
        "--review-every", "90", "--basis", "PIPL art. 19")  # fmt: skip
    (work / "signed.pdf").write_bytes(b"%PDF-1.4 invented signed NDA")
    nda = ("--org", "Bidder A", "--title", "NDA", "--effective", YESTERDAY)
    run("agreement", "add", "--deal", "d1", "--kind", "nda", *nda, "--document",
        str(work / "signed.pdf"))  # fmt: skip
    run("deal", "advance", "d1", "--to", "due_diligence")
    ask = ("access", "request", "--deal", "d1", "--dataset", "crm", "--category", "contact",
           "--level", "masked", "--purpose", "spot check", "--days", "14")  # fmt: skip
    run(*ask, who=CLEAN)  # request #1: pending
    run(*ask, who=CLEAN)  # request #2: approved, grant #1
    run("access", "approve", "2")
    run("access", "approve", "2", who=COUNSEL)
    run("deal", "advance", "d1", "--to", "signing")
    run("deal", "advance", "d1", "--to", "closing", "--winner", "Bidder A")
    run("agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "transfer",
        "--title", "Transfer", "--effective", YESTERDAY)  # fmt: skip
    # agreement #3: a clean-team agreement its members accept online (none has yet)
    run("agreement", "add", "--deal", "d1", "--org", "Bidder A", "--kind", "clean_team",
        "--title", "Clean team", "--effective", YESTERDAY, "--acceptance", "click",
        "--document", str(work / "signed.pdf"))  # fmt: skip
    ident = pyrage.x25519.Identity.generate()
    (work / "age.key").write_text(f"{ident}\n")
    (work / "age.key").chmod(0o600)
    age1 = str(ident.to_public())
    plan = ("plan", "create", "--deal", "d1", "--dataset", "crm", "--recipient", "Bidder A",
            "--category", "identity,contact", "--age-recipient", age1, "--purpose")  # fmt: skip
    run(*plan, "closing hand-over")  # plan #1
    run("plan", "approve", "1", who=STEWARD2)
    run("plan", "approve", "1", who=COUNSEL)
    run("compliance", "pia", "generate", "1")  # impact assessment #1 of plan #1, unsigned
    # the gate is closed (plan #1's purpose is two words, ...): counsel waives what blocks it
    gate = invoke(home, "--as", COUNSEL, "compliance", "check", "1", "--json")
    assert gate.exit_code == 5, gate.output
    for f in json.loads(gate.stdout)["findings"]:
        if f["blocking"] and f["status"] == "open":
            run("compliance", "waive", str(f["id"]), "--reason", "set out in the agreement",
                who=COUNSEL)  # fmt: skip
    run("package", "build", "1", "--out", str(work / "pkg"))  # package #1
    # plan #2: pending; it hands over free text too, never reviewed (compliance review)
    texts = tuple("identity,contact,free_text" if a == "identity,contact" else a for a in plan)
    run(*texts, "second hand-over")
    # plan #2's findings are open: the gate is closed; {finding} is one counsel may waive
    checked = invoke(home, "--as", COUNSEL, "compliance", "check", "2", "--json")
    assert checked.exit_code == 5, checked.output
    finding = next(f["id"] for f in json.loads(checked.stdout)["findings"] if f["blocking"])
    run("package", "verify", str(work / "pkg"), "--identity", str(work / "age.key"),
        "--report-json", str(work / "report.json"), **op)  # fmt: skip
    run("deal", "create", "d2", "--name", "D2", "--seller", "Seller Co", "--bidder", "Bidder A",
        "--steward", STEWARD, **op)  # fmt: skip
    run("deal", "terminate", "d2", "--reason", "no deal")
    for code in ("d3", "d4"):  # d3 at preparation, d4 frozen
        run("deal", "create", code, "--name", code, "--seller", "Seller Co", "--steward", STEWARD,
            **op)  # fmt: skip
    run("deal", "freeze", "d4", "--reason", "suspected leak")
    run("certificate", "issue", "--deal", "d2", "--org", "Bidder A", "--method", "deleted",
        "--yes", "--out", str(work / "cert.note"))  # fmt: skip
    backup = run("backup", "create", "--recipient", age1, "--out", str(work / "backups"),
                 "--json", **op)["path"]  # fmt: skip
    run("audit", "export", str(work / "bundle"), **op)
    run("audit", "cosigner-key", "w.example/witness", "--out", str(work / "w.key"))
    (work / "old-audit.key").write_text(generate_signer("dealvault.invalid/log-old")[0] + "\n")
    (work / "old-audit.key").chmod(0o600)
    (work / "policy.toml").write_text(default_policy().text, encoding="utf-8")
    quieter = default_rules().text.replace("count = 5, minutes = 10", "count = 6, minutes = 10")
    (work / "rules.toml").write_text(quieter, encoding="utf-8")
    # a read above the clean team's ceiling, found by the monitor: alert #1 (deal d1)
    refused = invoke(home, "--as", CLEAN, "lookup", ROWS[0]["手机号"], *("--deal", "d1"),
                     *("--dataset", "crm"))  # fmt: skip
    assert refused.exit_code == 4, refused.output
    run("monitor", "run", **op)
    # incident #1 (deal d1), opened from alert #1
    run("incident", "open", "--from-alert", "1", "--title", "a read above the ceiling")
    # its notices (docs/monitoring.md "Notices and legal clocks"): #1 a complete draft, #2 the
    # final customers' notice, #3 a partner notice; customer batch #1 by SMS
    (work / "answers.toml").write_text(ANSWERS, encoding="utf-8")
    draft = ("incident", "notice", "draft", "1", "--kind", "pipl-customers", "--answers",
             str(work / "answers.toml"))  # fmt: skip
    run(*draft)
    run(*draft)
    run("incident", "notice", "finalise", "2")
    run("incident", "notice", "partner", "1", "--contact", "security desk", "--out",
        str(work / "partner.note"))  # fmt: skip
    run("incident", "notice", "customers", "1", "--channel", "sms", "--out", str(work / "sms.csv"))
    (work / "status.csv").write_text(
        "delivery_id,status,at\n1-000001,delivered,2026-12-07T10:00:00+08:00\n", encoding="utf-8"
    )
    # plan #3 with its recipient's contact, its customers notified (batch #2), one unreached
    run(*plan, "a third hand-over", "--recipient-contact", "Bidder A, 1 Test Road, Beijing")
    run("plan", "notify", "3", "--channel", "sms", "--contact", "service desk",
        "--out", str(work / "plan-sms.csv"))  # fmt: skip
    (work / "plan-status.csv").write_text(
        "delivery_id,status,at\n2-000001,failed,2026-12-07T10:00:00+08:00\n", encoding="utf-8"
    )
    run("plan", "notice-status", "3", str(work / "plan-status.csv"))
    vkey = run("audit", "key", "show", "--json", **op)["verifier_key"]
    # task #1 of incident #1, the steward's
    run("incident", "task", "add", "1", "--title", "ask the clean team", "--owner", STEWARD,
        "--due", "2d")  # fmt: skip
    # drill #1: its own deal (drill-1), alert #2 and incident #2
    run("drill", "run", "--customers", "20", **op)
    _tls(work)
    (work / "training.csv").write_text(
        f"email,course,completed,expires\n{STEWARD2},confidentiality,{YESTERDAY},\n",
        encoding="utf-8",
    )
    (work / "consents.csv").write_text(
        "customer_key,purpose,given_at,source\nC000001,marketing,2026-01-02,web form\n",
        encoding="utf-8",
    )
    values = {
        "W": str(work),
        "age1": age1,
        "subject": subject[0]["subject_id"],
        "backup": backup,
        "phone": ROWS[0]["手机号"],
        "sha": hashlib.sha256((work / "signed.pdf").read_bytes()).hexdigest(),
        "vkey": vkey,
        "finding": str(finding),
    }
    return World(work=work, home=home, values=values)
