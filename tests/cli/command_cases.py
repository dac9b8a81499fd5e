"""Every leaf command of ``dealvault`` and how it fails: the table the tests in
tests/cli/test_every_command*.py run. A new command is not covered until it has a row here
(the tests walk the real command tree and say so).

Arguments are filled in from the world (tests/cli/command_world.py): ``{W}`` is the directory
beside the store, ``{age1}`` the age recipient, ``{subject}`` a customer's subject id,
``{backup}`` a backup file, ``{phone}`` a customer's phone, ``{sha}`` the SHA-256 of
agreement #3's document, ``{T}`` the test's own
directory (for what a command writes); ``{file}`` / ``{out}`` are the bad input or output path
of a file case."""

from __future__ import annotations

from dataclasses import dataclass

from tests.cli.command_world import CLEAN, COUNSEL, STEWARD2, STRANGER
from tests.cli.seller import OPERATOR, STEWARD, TRAINER

TOKEN = "0" * 32  # the form of a recipient's token; this one maps to nobody
NOPE = "nope"  # a deal, dataset, organisation... that does not exist
NO_STORE = (3, "no dealvault store here")
STORELESS = (0, "")  # the command needs no store: it works in an empty home and leaves it so
D1 = ("--deal", "d1")
CRM = ("--deal", "d1", "--dataset", "crm")
UNKNOWN_DEAL = (("--deal", NOPE), "deal 'nope' not found")


@dataclass(frozen=True)
class Case:
    """One leaf command: ``main`` args succeed for ``actor`` on (a copy of) the world;
    ``denied`` is refused them (exit 4); each of ``unknown`` (args, message) names something
    that does not exist (exit 3); ``empty_home`` is (exit code, message) in a home with no
    store, for ``empty_args`` (default: the main args)."""

    main: tuple[str, ...]
    actor: str | None = STEWARD
    denied: str | None = None
    unknown: tuple[tuple[tuple[str, ...], str], ...] = ()
    empty_home: tuple[int, str] = NO_STORE
    empty_args: tuple[str, ...] | None = None
    main_exit: tuple[int, str] = (0, "")


def swap(args: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    """``args`` with its (first) argument ``old`` replaced by ``new``."""
    i = args.index(old)
    return (*args[:i], new, *args[i + 1 :])


def _unknown_deal(
    args: tuple[str, ...], *more: tuple[tuple[str, ...], str], deal: str = "d1"
) -> Case:
    """A steward's command on a deal (refused to the training admin, no member of it)."""
    unknown = (swap(args, deal, NOPE), "deal 'nope' not found")
    return Case(args, denied=TRAINER, unknown=(unknown, *more))


def _by_id(
    args: tuple[str, ...], missing: str, *, actor: str = STEWARD, denied: str = TRAINER
) -> Case:
    """A command on a numbered thing (the first argument): number 999 is ``missing``."""
    return Case(args, actor=actor, denied=denied, unknown=((("999", *args[1:]), missing),))


def _operator(args: tuple[str, ...] = (), *unknown: tuple[tuple[str, ...], str]) -> Case:
    """A store-wide command: the operator's, refused to a deal's steward."""
    return Case(args, actor=OPERATOR, denied=STEWARD, unknown=unknown)


def _dataset(args: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    return (swap(args, "crm", NOPE), "dataset 'nope' not found")


LOOKUP = ("{phone}", *CRM)
STATUS = ("{subject}", "--set", "opted_out", "--reason", "letter of 2026-11-20", *CRM)
DISCLOSE = ("--level", "aggregate", *CRM, "--purpose", "valuation", "--recipient", "Bidder A")
VIEW = (*CRM, "--purpose", "check")
ACCESS = ("--deal", "d1", "--dataset", "crm", "--category", "contact", "--level", "masked",
           "--purpose", "spot check", "--days", "7")  # fmt: skip
PLAN = ("--deal", "d1", "--dataset", "crm", "--recipient", "Bidder A", "--category", "contact",
         "--purpose", "hand-over", "--age-recipient", "{age1}")  # fmt: skip
RETAIN = ("--deal", "d1", "--dataset", "crm", "--category", "contact", "--keep-days", "365",
          "--review-every", "90", "--basis", "PIPL art. 19")  # fmt: skip
RECEIVE = ("{W}/pkg", "--identity", "{W}/age.key", "--deal", "d1", "--dataset", "received",
            "--canaries", "{W}/pkg.canaries")  # fmt: skip

CASES: dict[str, Case] = {
    "init": Case(
        ("--operator", OPERATOR, "--org", "Seller Co"),
        actor=None,
        empty_home=(2, "a new store needs its first operator"),
        empty_args=(),
    ),
    "import": _unknown_deal(("{W}/crm.csv", *swap(CRM, "crm", "crm2"))),
    "lookup": _unknown_deal(LOOKUP, _dataset(LOOKUP)),
    "status": _unknown_deal(
        STATUS, _dataset(STATUS), (swap(STATUS, "{subject}", "S0"), "no customer S0 in dataset")
    ),
    "shred": _unknown_deal(("{subject}", *CRM, "--yes"), _dataset(("{subject}", *CRM, "--yes"))),
    "rejects": _unknown_deal(("1", *D1), (("999", *D1), "import #999 not found")),
    "inventory": _unknown_deal(CRM, _dataset(CRM)),
    "disclose": _unknown_deal(DISCLOSE, _dataset(DISCLOSE)),
    "view": _unknown_deal(VIEW, _dataset(VIEW)),
    "trace": _unknown_deal(("{W}/crm.csv", *D1)),
    "synth": Case(("--rows", "3", "--out", "{T}/synth-out"), actor=None, empty_home=STORELESS),
    "org add": _operator(("Org X", "--kind", "bidder")),
    "org list": _operator(),
    "org show": _operator(("Bidder A",), ((NOPE,), "organisation 'nope' not found")),
    "person add": _operator(
        ("p@x.example", "--name", "P", "--org", "Bidder A"),
        (("p@x.example", "--name", "P", "--org", NOPE), "organisation 'nope' not found"),
    ),
    "person list": _operator(),
    # the invitation is made and mailed in one go: with no mail server, nothing is made (8)
    "person invite": Case(
        (
            "new@bidder.example",
            "--deal",
            "d1",
            "--role",
            "bidder_business",
            "--name",
            "N",
            "--org",
            "Bidder A",
        ),
        denied=TRAINER,
        unknown=(
            (
                ("new@bidder.example", "--deal", NOPE, "--role", "bidder_business"),
                "deal 'nope' not found",
            ),
        ),
        main_exit=(8, "did not take the mail"),
    ),
    "account disable": _unknown_deal((CLEAN, "--deal", "d1")),
    "account enable": _unknown_deal((CLEAN, "--deal", "d1")),
    # signing in needs a server (tests/api/test_remote_cli.py): here, no token on stdin
    "login": Case(
        ("--server", "http://127.0.0.1:1", "--token-stdin"),
        actor=None,
        empty_home=(2, "no token on standard input"),
        main_exit=(2, "no token on standard input"),
    ),
    "logout": Case((), actor=None, empty_home=STORELESS),
    # the warm command server is per user, not per store (tests/cli/test_warm.py)
    "warm status": Case((), actor=None, empty_home=STORELESS),
    "warm stop": Case((), actor=None, empty_home=STORELESS),
    # serving runs until stopped (tests/api/test_serve_cli.py): here, the refusal of several
    # processes on the SQLite store, checked before anything opens
    "serve": Case(
        ("--insecure-http", "--workers", "2"),
        actor=OPERATOR,
        empty_home=(2, "one process"),
        main_exit=(2, "one process"),
    ),
    "person show": _operator((STEWARD,), (("no@one.invalid",), "person not found")),
    "deal create": _operator(
        ("d9", "--name", "N", "--seller", "Seller Co"),
        (("d9", "--name", "N", "--seller", NOPE), "organisation 'nope' not found"),
    ),
    "deal show": _unknown_deal(("d1",)),
    "deal list": Case(()),  # lists what the actor may see: nobody is refused
    "deal add-party": _unknown_deal(
        ("d3", "--org", "Law LLP", "--role", "counsel"),
        (("d3", "--org", NOPE), "organisation 'nope' not found"),
        deal="d3",
    ),
    "deal add-member": _unknown_deal(
        ("d1", "--person", TRAINER, "--role", "security_officer"),
        (("d1", "--person", "no@one.invalid", "--role", "counsel"), "person not found"),
    ),
    "deal advance": _unknown_deal(("d1",)),
    "deal terminate": _unknown_deal(("d3", "--reason", "called off"), deal="d3"),
    "deal freeze": _unknown_deal(("d1", "--reason", "suspected leak")),
    "deal unfreeze": _unknown_deal(("d4", "--reason", "all clear"), deal="d4"),
    "store show": _operator(),
    "store grant": _operator(
        (STEWARD, "--role", "training_admin"),
        (("no@one.invalid", "--role", "training_admin"), "person not found"),
    ),
    "store revoke": _operator(
        (TRAINER, "--role", "training_admin"),
        ((STEWARD, "--role", "training_admin"), "holds no store role training_admin"),
    ),
    "keys status": _operator(),
    "keys rotate": _unknown_deal(
        ("--deal", "d1", "--data", "crm"),
        (("--deal", "d1", "--data", NOPE), "dataset 'nope' not found"),
    ),
    "audit verify": _operator(),
    "audit verify-bundle": Case(("{W}/bundle",), actor=None, empty_home=STORELESS),
    "audit export": _operator(("{T}/new-bundle",)),
    "audit prove": _operator(
        ("3", "--out", "{T}/e3.tlog-proof"), (("9999",), "event 9999 is not in the log")
    ),
    "audit log": _operator(),
    "audit report": _operator(
        ("{T}/report.html",), (("{W}/r.html", "--deal", NOPE), "deal 'nope' not found")
    ),
    "audit checkpoint": _operator(),
    "audit cosigner-key": Case(
        ("w2.example/witness", "--out", "{T}/w2.key"), actor=None, empty_home=STORELESS
    ),
    "audit cosign": _operator(
        ("--key", "{W}/w.key"),
        (("--key", "{W}/w.key", "--checkpoint", "999"), "no such checkpoint"),
    ),
    "audit key show": _operator(),
    # a store of this version holds its key already: the file is refused, not deleted (moving
    # an older store's key is tested in tests/audit/test_signing_key.py)
    "audit key import": Case(
        ("--file", "{W}/old-audit.key"),
        actor=OPERATOR,
        denied=STEWARD,
        unknown=((("--file", "{W}/no-audit.key"), "no audit key file at"),),
        main_exit=(5, "move the file away"),
    ),
    "columns override": _unknown_deal(
        ("姓名", *CRM, "--sensitive"), _dataset(("姓名", *CRM, "--sensitive"))
    ),
    "token resolve": _unknown_deal(
        (TOKEN, *CRM, "--recipient", "Bidder A", "--purpose", "check"),
        ((TOKEN, *CRM, "--recipient", NOPE, "--purpose", "check"), "organisation 'nope' not found"),
    ),
    "agreement add": _unknown_deal(
        (
            "--deal",
            "d1",
            "--org",
            "Bidder A",
            "--kind",
            "nda",
            "--title",
            "NDA 2",
            "--effective",
            "2026-01-05",
        )
    ),
    "agreement list": _unknown_deal(D1),
    "agreement show": _by_id(("1",), "agreement #999 not found"),
    "agreement revoke": _by_id(("1", "--reason", "superseded"), "agreement #999 not found"),
    "agreement document": _by_id(("1", "--out", "{T}/nda.pdf"), "agreement #999 not found"),
    # a party's own click-through agreement: the steward is no party; someone unregistered is
    # refused before anything (another organisation's member is told it does not exist)
    "agreement pending": Case(D1, actor=CLEAN, denied=STEWARD, unknown=(UNKNOWN_DEAL,)),
    "agreement accept": _by_id(
        ("3", "--sha256", "{sha}"), "agreement #999 not found", actor=CLEAN, denied=STRANGER
    ),
    "training add": Case(
        ("--person", STEWARD2, "--course", "gdpr", "--completed", "2026-01-05"),
        actor=TRAINER,
        denied=STEWARD,
        unknown=(
            (
                ("--person", "no@one.invalid", "--course", "gdpr", "--completed", "2026-01-05"),
                "person not found",
            ),
        ),
    ),
    "training import": Case(("{W}/training.csv",), actor=TRAINER, denied=STEWARD),
    "training list": Case((), actor=TRAINER, denied=STEWARD),
    "access request": Case(
        ACCESS,
        actor=CLEAN,
        denied=STEWARD,
        unknown=((swap(ACCESS, "d1", NOPE), "deal 'nope' not found"), _dataset(ACCESS)),
    ),
    "access approve": _by_id(("1",), "access request 999 not found", actor=COUNSEL),
    "access deny": _by_id(("1", "--reason", "too broad"), "access request 999 not found"),
    "access revoke": _by_id(("1", "--reason", "done"), "grant 999 not found"),
    "access list": _unknown_deal(D1),
    "access show": _by_id(("1",), "access request 999 not found"),
    "policy show": _unknown_deal(D1),
    "policy validate": Case(("{W}/policy.toml",), actor=None, empty_home=STORELESS),
    "policy set": _unknown_deal(("{W}/policy.toml", *D1, "--comment", "the default, stored")),
    "policy history": _unknown_deal(D1),
    "policy check": _unknown_deal(("--role", "bidder_business", "--stage", "closing", *D1)),
    "backup create": _operator(("--recipient", "{age1}", "--out", "{T}/more-backups")),
    "backup verify": _operator(("{backup}", "--identity", "{W}/age.key")),
    "backup restore": _operator(("{backup}", "--identity", "{W}/age.key", "--to", "{T}/restored")),
    "backup list": _operator(),
    "certificate issue": _unknown_deal(
        ("--deal", "d2", "--org", "Bidder A", "--method", "returned", "--yes"), deal="d2"
    ),
    "certificate verify": _by_id(("1",), "certificate #999 not found"),
    "certificate list": _unknown_deal(D1),
    "plan create": _unknown_deal(PLAN, _dataset(PLAN)),
    "plan approve": _by_id(("2",), "transfer plan 999 not found", actor=COUNSEL),
    "plan deny": _by_id(("2", "--reason", "not now"), "transfer plan 999 not found", actor=COUNSEL),
    "plan show": _by_id(("1",), "transfer plan 999 not found"),
    "plan mechanism": _by_id(
        ("1", "--kind", "standard_contract", "--reference", "CAC filing 2026-0042"),
        "transfer plan 999 not found",
        actor=COUNSEL,
    ),
    "plan list": _unknown_deal(D1),
    "plan notify": _by_id(
        ("3", "--channel", "sms", "--contact", "service desk", "--out", "{T}/plan-sms.csv"),
        "transfer plan 999 not found",
    ),
    "plan notice-status": _by_id(("3", "{W}/plan-status.csv"), "transfer plan 999 not found"),
    "package build": _by_id(("1", "--out", "{T}/pkg2"), "transfer plan 999 not found"),
    "package verify": Case(
        ("{W}/pkg", "--identity", "{W}/age.key"), actor=OPERATOR, denied=STEWARD
    ),
    "package receive": _unknown_deal(RECEIVE),
    "package canaries": _by_id(
        ("1", "--out", "{T}/again.canaries"), "transfer package 999 not found"
    ),
    "package ledger": _unknown_deal(D1),
    "package inbox": _unknown_deal(D1),
    "package fetch": _by_id(("1", "--out", "{T}/fetched.tar"), "transfer package 999 not found"),
    "monitor run": _operator(),
    "monitor status": _operator(),
    "monitor rules show": _operator(),
    "monitor rules validate": Case(("{W}/rules.toml",), actor=None, empty_home=STORELESS),
    "monitor rules set": _operator(("{W}/rules.toml", "--comment", "quieter denials")),
    "monitor rules history": _operator(),
    # no canary has this number: recorded, nothing raised
    "canary hit": _operator(("--phone", "13800138000", "--at", "2026-12-01T09:00:00+08:00")),
    "alert list": Case((), denied=TRAINER, unknown=(UNKNOWN_DEAL,)),
    "alert show": _by_id(("1",), "alert 999 not found"),
    "alert ack": _by_id(("1", "--note", "asked Bidder A"), "alert 999 not found"),
    "incident open": Case(
        ("--from-alert", "1", "--title", "refused again"),
        denied=TRAINER,
        unknown=(
            (("--from-alert", "999", "--title", "x"), "alert 999 not found"),
            (("--deal", NOPE, "--title", "x"), "deal 'nope' not found"),
        ),
    ),
    "incident show": _by_id(("1",), "incident 999 not found"),
    "incident timeline": _by_id(("1",), "incident 999 not found"),
    "incident impact": _by_id(("1",), "incident 999 not found"),
    "incident list": Case((), denied=TRAINER, unknown=(UNKNOWN_DEAL,)),
    "incident assign": _by_id(
        ("1", "--person", STEWARD, "--role", "lead"), "incident 999 not found"
    ),
    "incident note": _by_id(("1", "--text", "asked Bidder A"), "incident 999 not found"),
    "incident close": _by_id(("1", "--resolution", "contained"), "incident 999 not found"),
    "incident report": _by_id(("1", "{T}/incident.html"), "incident 999 not found"),
    "compliance check": Case(
        ("2",),
        denied=TRAINER,
        unknown=((("999",), "transfer plan 999 not found"),),
        main_exit=(5, "the gate is closed"),
    ),
    "compliance findings": _by_id(("1",), "transfer plan 999 not found"),
    "compliance report": _by_id(("1", "{T}/compliance.html"), "transfer plan 999 not found"),
    "compliance review": _by_id(("1",), "transfer plan 999 not found"),
    "compliance waive": _by_id(
        ("{finding}", "--reason", "the purposes are set out in the transfer agreement"),
        "compliance finding 999 not found",
        actor=COUNSEL,
    ),
    "consent import": _unknown_deal(("{W}/consents.csv", *CRM)),
    "consent summary": _unknown_deal(CRM),
    "compliance pia generate": _by_id(("1",), "transfer plan 999 not found"),
    "compliance pia list": _by_id(("1",), "transfer plan 999 not found"),
    "compliance pia show": _by_id(("1",), "impact assessment 999 not found"),
    "compliance pia export": _by_id(("1", "{T}/pia.html"), "impact assessment 999 not found"),
    "compliance pia sign": _by_id(
        ("1", "--as-role", "counsel", "--note", "purposes checked"),
        "impact assessment 999 not found",
        actor=COUNSEL,
    ),
    "retention set": _unknown_deal(RETAIN, _dataset(RETAIN)),
    "retention list": _unknown_deal(D1),
    "retention review": _by_id(
        ("1", "--note", "checked against the contract"), "retention rule 999 not found"
    ),
    "retention due": Case((), denied=TRAINER, unknown=(UNKNOWN_DEAL,)),
    "retention run": _unknown_deal(("--deal", "d1", "--dry-run")),
    "compliance rules": Case((), actor=None, empty_home=STORELESS),
    "drill run": _operator(("--customers", "20")),
    "drill list": _operator(),
    "drill show": _by_id(("1",), "no drill #999", actor=OPERATOR, denied=STEWARD),
    "incident task add": _by_id(
        ("1", "--title", "call Bidder A", "--owner", STEWARD, "--due", "2d"),
        "incident 999 not found",
    ),
    "incident task list": _by_id(("1",), "incident 999 not found"),
    "incident task done": _by_id(("1", "1", "--note", "called"), "incident 999 not found"),
    "incident clocks": _by_id(("1",), "incident 999 not found"),
    "incident aware": _by_id(
        ("1", "--at", "2026-12-01T08:00:00+08:00", "--reason", "the hotline call"),
        "incident 999 not found",
    ),
    "incident regimes": _by_id(("1", "--regime", "gdpr"), "incident 999 not found"),
    "incident notice draft": _by_id(("1", "--kind", "gdpr-subjects"), "incident 999 not found"),
    "incident notice finalise": _by_id(("1",), "notice 999 not found"),
    "incident notice list": _by_id(("1",), "incident 999 not found"),
    "incident notice show": _by_id(("1",), "notice 999 not found"),
    "incident notice mark-sent": _by_id(
        ("2", "--at", "2026-12-07T09:00:00+08:00", "--channel", "sms"), "notice 999 not found"
    ),
    "incident notice customers": _by_id(
        ("1", "--channel", "sms", "--out", "{T}/sms.csv"), "incident 999 not found"
    ),
    "incident notice status": _by_id(("1", "{W}/status.csv"), "incident 999 not found"),
    "incident notice partner": _by_id(
        ("1", "--contact", "security desk"), "incident 999 not found"
    ),
    "incident notice ack": _by_id(("3",), "notice 999 not found", actor=CLEAN),
    "incident notice verify": Case(
        ("{W}/partner.note", "--key", "{vkey}"), actor=None, empty_home=STORELESS
    ),
    "package review": _by_id(
        ("1", "--report", "{W}/report.json"), "transfer package 999 not found", actor=COUNSEL
    ),
}
