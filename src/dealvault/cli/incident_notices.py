"""Commands: incident clocks, aware, regimes; incident notice draft, finalise, list, show,
mark-sent, customers, status, partner, ack, verify (legal clocks and notices of an incident)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Invalid
from dealvault.files import read_text_file
from dealvault.incidents.clocks import ClockOut
from dealvault.incidents.notice_schemas import BatchOut, NoticeOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IncidentArg = Annotated[int, typer.Argument(min=1, help="Incident id (see 'incident list').")]
NoticeArg = Annotated[int, typer.Argument(min=1, help="Notice id (see 'incident notice list').")]

notice_app = typer.Typer(
    help="Notices of an incident: to the authority and customers (PIPL art. 57, GDPR art. 33 "
    "and 34), per-customer messages in bulk, signed partner notices and their acknowledgements.",
    no_args_is_help=True,
)


def register(incident_app: typer.Typer) -> None:
    incident_app.command("clocks")(clocks_cmd)
    incident_app.command("aware")(aware_cmd)
    incident_app.command("regimes")(regimes_cmd)
    incident_app.add_typer(notice_app, name="notice")


def when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at is not None else "-"


def _time(text: str, option: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{option}: not a date and time (e.g. 2026-12-08T09:30:00+08:00)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _left(seconds: int) -> str:
    sign, s = ("", seconds) if seconds >= 0 else ("-", -seconds)
    return f"{sign}{s // 3600}h{s % 3600 // 60:02d}m"


def clock_rows(clocks: list[ClockOut]) -> list[tuple[str, ...]]:
    return [
        (
            c.id,
            c.source,
            f"{c.hours:g} h" + ("" if c.statutory else " (target)"),
            when(c.due_at),
            c.state,
            _left(c.seconds_left) if c.sent_at is None else f"sent {when(c.sent_at)}",
        )
        for c in clocks
    ]


CLOCK_COLUMNS = ["clock", "source", "duration", "due", "state", "left / met"]


def _clocks(ctx: typer.Context, clocks: list[ClockOut], json_out: bool, title: str) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, clocks)
        return
    c.console.print(table(title, CLOCK_COLUMNS, clock_rows(clocks)))
    if any(not k.statutory for k in clocks):
        c.console.print(
            "(target): the law gives no hour count ('without undue delay', 立即); the hours "
            "are the deal's working target (docs/monitoring.md)."
        )


def clocks_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    set_file: Annotated[
        Path | None,
        typer.Option(
            "--set", help="Put this clocks file in force for the incident (default: shipped)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The incident's legal clocks: due time, time left or overdue, met (notice sent)."""
    from dealvault.flows import legal_clocks as flows

    c = get(ctx)
    if set_file is not None:
        out = flows.set_clocks(c.stores(), actor=c.actor(), incident_id=incident_id, path=set_file)
    else:
        out = flows.show_clocks(c.stores(), actor=c.actor(), incident_id=incident_id)
    _clocks(ctx, out, json_out, f"legal clocks of incident #{incident_id}")


def aware_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    at: Annotated[str, typer.Option(help="When the store became aware (ISO 8601).")],
    reason: Annotated[str, typer.Option(help="Why this time (kept with the incident).")],
    json_out: JsonOpt = False,
) -> None:
    """Set when the store became aware of the incident (the clocks run from it)."""
    from dealvault.flows import legal_clocks as flows

    c = get(ctx)
    out = flows.set_awareness(
        c.stores(),
        actor=c.actor(),
        incident_id=incident_id,
        aware_at=_time(at, "--at"),
        reason=reason,
    )
    _clocks(ctx, out, json_out, f"legal clocks of incident #{incident_id}")


def regimes_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    regime: Annotated[list[str], typer.Option(help="pipl or gdpr (repeatable).")],
    json_out: JsonOpt = False,
) -> None:
    """Say which regimes' clocks run for the incident (default: PIPL)."""
    from dealvault.flows import legal_clocks as flows

    c = get(ctx)
    out = flows.set_regimes(c.stores(), actor=c.actor(), incident_id=incident_id, regimes=regime)
    _clocks(ctx, out, json_out, f"legal clocks of incident #{incident_id}")


def _notice(ctx: typer.Context, n: NoticeOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, n.model_copy(update={"body": None}))
        return
    items: list[tuple[str, object]] = [
        ("incident", f"#{n.incident}"),
        ("kind", n.kind),
        ("status", n.status),
        ("language", n.language),
        ("missing", ", ".join(n.missing) or "-"),
        ("created", f"{when(n.created_at)} by {n.created_by}"),
        ("final", f"{when(n.finalised_at)} by {n.finalised_by}" if n.finalised_at else "-"),
        ("sent", f"{when(n.sent_at)} via {n.channel} by {n.sent_by}" if n.sent_at else "-"),
        ("sha256", n.sha256 or "-"),
    ]
    if n.kind == "partner":
        items += [
            ("to", ", ".join(n.addressees)),
            (
                "acknowledged",
                "; ".join(f"{a.organisation} ({a.email}, {when(a.at)})" for a in n.acknowledged)
                or "-",
            ),
            ("waiting for", ", ".join(n.waiting) or "-"),
        ]
    c.console.print(kv_table(f"notice #{n.id}", items))


@notice_app.command("draft")
def draft_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    kind: Annotated[
        str, typer.Option(help="pipl-authority, pipl-customers, gdpr-authority or gdpr-subjects.")
    ],
    answers: Annotated[
        Path | None, typer.Option(help="The team's answers (TOML; docs/monitoring.md).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Draft a notice from the impact analysis and the answers file; lists what is missing."""
    from dealvault.flows import incident_notices as flows
    from dealvault.incidents.legal_notices import parse_answers

    c = get(ctx)
    given = parse_answers(read_text_file(answers), file=answers.name) if answers else {}
    n = flows.draft_notice(
        c.stores(), actor=c.actor(), incident_id=incident_id, kind=kind, answers=given
    )
    _notice(ctx, n, json_out)


@notice_app.command("finalise")
def finalise_cmd(ctx: typer.Context, notice_id: NoticeArg, json_out: JsonOpt = False) -> None:
    """Make a draft final (refused, naming each missing field, while one is missing)."""
    from dealvault.flows import incident_notices as flows

    c = get(ctx)
    _notice(ctx, flows.finalise_notice(c.stores(), actor=c.actor(), notice_id=notice_id), json_out)


@notice_app.command("list")
def list_cmd(ctx: typer.Context, incident_id: IncidentArg, json_out: JsonOpt = False) -> None:
    """The incident's notices and its customer notice batches (counts per status)."""
    from dealvault.flows import incident_notices as flows

    c = get(ctx)
    rows = flows.list_notices(c.stores(), actor=c.actor(), incident_id=incident_id)
    batches = flows.list_batches(c.stores(), actor=c.actor(), incident_id=incident_id)
    if json_out:
        print_json(c.console, {"notices": rows, "batches": batches})
        return
    c.console.print(
        table(
            f"{len(rows)} notice(s) of incident #{incident_id}",
            ["id", "kind", "status", "missing", "created", "sent"],
            [
                (
                    n.id,
                    n.kind,
                    n.status,
                    ", ".join(n.missing) or "-",
                    when(n.created_at),
                    when(n.sent_at),
                )
                for n in rows
            ],
        )
    )
    print_batches(ctx, batches)


def print_batches(
    ctx: typer.Context, batches: list[BatchOut], *, what: str = "customer notice"
) -> None:
    """The batches of per-customer notices: channel, customers and counts per status."""
    get(ctx).console.print(
        table(
            f"{len(batches)} {what} batch(es)",
            ["batch", "channel", "customers", "counts", "created"],
            [
                (
                    b.id,
                    b.channel,
                    b.customers,
                    ", ".join(f"{k} {v}" for k, v in b.counts.items()),
                    when(b.created_at),
                )
                for b in batches
            ],
        )
    )


@notice_app.command("show")
def show_cmd(
    ctx: typer.Context,
    notice_id: NoticeArg,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the notice: .html, .pdf, or the partner notice's signed note."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """One notice; with --out its text written to a file (mode 0600)."""
    from dealvault.flows import incident_notices as flows

    c = get(ctx)
    n = flows.show_notice(c.stores(), actor=c.actor(), notice_id=notice_id, out=out)
    _notice(ctx, n, json_out)


@notice_app.command("mark-sent")
def mark_sent_cmd(
    ctx: typer.Context,
    notice_id: NoticeArg,
    at: Annotated[str, typer.Option(help="When it was sent (ISO 8601).")],
    channel: Annotated[str, typer.Option(help="How: portal, e-mail, letter, sms...")],
    json_out: JsonOpt = False,
) -> None:
    """Record that a final notice was sent (stops its clock)."""
    from dealvault.flows import incident_notices as flows

    c = get(ctx)
    n = flows.mark_sent(
        c.stores(), actor=c.actor(), notice_id=notice_id, at=_time(at, "--at"), channel=channel
    )
    _notice(ctx, n, json_out)


@notice_app.command("customers")
def customers_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    channel: Annotated[str, typer.Option(help="sms, email or letter.")],
    out: Annotated[Path, typer.Option(help="The delivery file for the gateway (CSV, 0600).")],
    json_out: JsonOpt = False,
) -> None:
    """Each affected customer's message (from the final customer notice) in a delivery file."""
    from dealvault.flows import incident_notices as flows

    c = get(ctx)
    b = flows.customer_notices(
        c.stores(), c.keyring(), actor=c.actor(), incident_id=incident_id, channel=channel, out=out
    )
    if json_out:
        print_json(c.console, b)
        return
    print_batches(ctx, [b])
    c.console.print(f"delivery file: {out} (sha256 {b.file_sha256})")


@notice_app.command("status")
def status_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    file: Annotated[
        Path, typer.Argument(help="The gateway's status file (delivery_id,status,at).")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Import the gateway's delivery status (every row checked; a bad row refuses the file)."""
    from dealvault.flows import incident_notices as flows

    c = get(ctx)
    batches = flows.import_status(c.stores(), actor=c.actor(), incident_id=incident_id, path=file)
    if json_out:
        print_json(c.console, batches)
        return
    print_batches(ctx, batches)


@notice_app.command("partner")
def partner_cmd(
    ctx: typer.Context,
    incident_id: IncidentArg,
    contact: Annotated[str, typer.Option(help="Your security contact for the partners.")],
    out: Annotated[Path | None, typer.Option(help="Write the signed notice to share.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign a notice for the other parties' security contacts (no personal value)."""
    from dealvault.files import check_output_file, write_private
    from dealvault.flows import incident_partners as flows

    c = get(ctx)
    if out is not None:
        check_output_file(out, what="notice file")
    n = flows.issue_partner_notice(
        c.stores(), actor=c.actor(), incident_id=incident_id, contact=contact
    )
    if out is not None:
        write_private(out, n.body or "")
    _notice(ctx, n, json_out)


@notice_app.command("ack")
def ack_cmd(ctx: typer.Context, notice_id: NoticeArg, json_out: JsonOpt = False) -> None:
    """Acknowledge a partner notice for your organisation (as one of its people)."""
    from dealvault.flows import incident_partners as flows

    c = get(ctx)
    _notice(ctx, flows.acknowledge(c.stores(), actor=c.actor(), notice_id=notice_id), json_out)


@notice_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A partner notice (signed note).")],
    key: Annotated[list[str], typer.Option(help="The issuing store's verifier key (repeatable).")],
    json_out: JsonOpt = False,
) -> None:
    """Verify a partner notice offline with the issuing store's public key (no store needed)."""
    from dealvault.flows import incident_partners as flows

    c = get(ctx)
    v = flows.verify_partner_notice(file, keys=key)
    if json_out:
        print_json(
            c.console,
            {"ok": True, "signed_by": v.signed_by, "key_id": v.key_id, "fields": v.fields},
        )
        return
    c.console.print(
        kv_table(
            f"{file.name}: signature verified ({v.signed_by}, key {v.key_id})",
            [(k, "; ".join(vs)) for k, vs in v.fields.items()],
        )
    )
