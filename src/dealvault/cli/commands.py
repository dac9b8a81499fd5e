"""Which module holds each top-level command, with its one-line help: `dealvault --help`
lists them without importing the commands (tests/cli/test_cli_startup.py keeps it true)."""

from __future__ import annotations

#: (command, module under dealvault.cli, one-line help), in the order --help lists them
COMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "init",
        "admin",
        (
            "Create the store: migrate both databases, make (or check) the master key, and record"
            " its first operator (the person of the organisation that runs the store)."
        ),
    ),
    (
        "import",
        "records",
        ("Import a customer table (customers, orders or notes) encrypted per customer."),
    ),
    (
        "lookup",
        "records",
        ("Find customers by a blind index and read them through the one read path (masked)."),
    ),
    (
        "status",
        "records",
        (
            "Record a customer's opt-out or objection (seller steward): the customer is then left"
            " out of every disclosure and transfer package, and counted per reason in the "
            "manifest."
        ),
    ),
    (
        "shred",
        "records",
        ("Crypto-shred a customer or a whole dataset: the keys are destroyed, for good."),
    ),
    (
        "rejects",
        "records",
        ("Show why rows of an import were rejected (values only with --out, to a file)."),
    ),
    (
        "inventory",
        "inventory",
        (
            "The data inventory: every column's PII type, category, sensitivity, confidence, fill"
            " rate and distinct count; customers, customers with sensitive PI, minors; a "
            "suggested grade."
        ),
    ),
    (
        "disclose",
        "disclose",
        ("Disclose a dataset at one level to a recipient, to a file or the terminal."),
    ),
    (
        "view",
        "disclose",
        ("See a dataset as you are allowed to: at most your level and your grant's row cap."),
    ),
    (
        "trace",
        "closing",
        ("Name the recipient of a leaked file from its canary customers and tokens."),
    ),
    (
        "canary",
        "monitor",
        ("Canary customers found outside: report a hit, trace its recipient."),
    ),
    (
        "synth",
        "synth",
        ("Generate a synthetic Chinese customer export (customers, orders, notes)."),
    ),
    (
        "org",
        "admin",
        ("Organisations: the seller, bidders, intermediary, law firms, auditor."),
    ),
    (
        "person",
        "admin",
        ("People (accounts); each belongs to one organisation."),
    ),
    (
        "deal",
        "admin",
        ("Deals and their stages, parties and members."),
    ),
    (
        "account",
        "accounts",
        ("Sign-in accounts on the server: disable or enable a deal member's sign-in."),
    ),
    (
        "login",
        "login",
        (
            "Sign in to a server: password and TOTP code (asked for; never as options), or an"
            " API token on standard input."
        ),
    ),
    (
        "logout",
        "login",
        ("End the server session and forget it here; commands work on the local store again."),
    ),
    (
        "serve",
        "serve",
        (
            "Run the server: unlock the master key once (prompt, --passphrase-fd or the key"
            " provider), keep it in memory only, and serve the API."
        ),
    ),
    (
        "store",
        "store",
        ("The store itself: its locations, key provider, operators and store-wide roles."),
    ),
    (
        "keys",
        "keys",
        ("The key hierarchy: master key, dataset keys, customer keys."),
    ),
    (
        "audit",
        "audit",
        ("The tamper-evident audit log (RFC 9162 Merkle tree, C2SP checkpoints and proofs)."),
    ),
    (
        "monitor",
        "monitor",
        ("Security monitoring: rules over the audit log raise alerts (docs/monitoring.md)."),
    ),
    (
        "alert",
        "alerts",
        ("Security alerts raised by the monitoring rules: list, show, acknowledge."),
    ),
    (
        "incident",
        "incidents",
        (
            "Security incidents: open (by hand or from alerts), team, notes, timeline, impact,"
            " close."
        ),
    ),
    (
        "compliance",
        "compliance",
        (
            "The compliance gate a transfer plan must pass: check, findings, waive, review, pia,"
            " report, rules."
        ),
    ),
    (
        "consent",
        "consent",
        ("Customers' consents per purpose, from the seller's systems: import, summary."),
    ),
    (
        "retention",
        "retention",
        (
            "Retention rules per dataset and category: set, list, review, due, run (scheduled "
            "crypto-shredding with destruction certificates)."
        ),
    ),
    (
        "drill",
        "drills",
        ("Incident drills: a scripted leak on a drill deal of invented customers, timed."),
    ),
    (
        "columns",
        "inventory",
        ("Column classification: show and override."),
    ),
    (
        "token",
        "disclose",
        ("Map a recipient's tokens back to customers (seller only)."),
    ),
    (
        "agreement",
        "agreements",
        ("Agreements (NDA, clean team, transfer, DPA): scope, signers, dates, signed document."),
    ),
    (
        "training",
        "agreements",
        ("Training records (e.g."),
    ),
    (
        "access",
        "access",
        (
            "Access requests: ask for a level of a dataset's categories; distinct people in the "
            "policy's roles approve (never the requester); the result is a time-boxed, revocable "
            "grant."
        ),
    ),
    (
        "policy",
        "policy",
        ("The access policy: the stage x role x category disclosure ceiling, versioned."),
    ),
    (
        "backup",
        "backup",
        ("Encrypted backups of both stores (records and keys), verified, with restore drills."),
    ),
    (
        "certificate",
        "closing",
        ("Destruction certificates: signed notes saying what was destroyed, how, when, by whom."),
    ),
    (
        "plan",
        "transfer",
        (
            "Transfer plans: what is handed over at closing, to whom (age recipients) and why; "
            "approved like an access request, at stage closing with a transfer agreement in "
            "force."
        ),
    ),
    (
        "package",
        "transfer",
        ("Transfer packages: build (seller), fetch, verify and receive (buyer), and the ledger."),
    ),
    (
        "warm",
        "warm_cmd",
        ("The warm command server (DEALVAULT_WARM=1): see it, stop it."),
    ),
)
