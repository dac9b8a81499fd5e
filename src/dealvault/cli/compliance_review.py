"""Command: compliance review (the content review of the free text a transfer plan hands over)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.compliance import JsonOpt, PlanArg, compliance_app
from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json


def _per(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {n:,}" for k, n in counts.items() if n) or "none"


@compliance_app.command("review")
def review(
    ctx: typer.Context,
    plan: PlanArg,
    words: Annotated[
        Path | None,
        typer.Option(
            "--words",
            help="Word list (TOML, as compliance/content_words.toml) replacing the shipped "
            "starting list (or the setting content_words).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Review the free text (notes) the plan would hand over: words of the list (gambling,
    drugs, ...) and other people's phone numbers, ID numbers, e-mails and names in customers'
    notes. Stores the counts with the plan (never a value) for the rules content-review,
    content-unlawful and third-party-pi; run 'compliance check' next."""
    from dealvault.compliance.content_words import load_words
    from dealvault.flows.compliance_review import review_plan

    c = get(ctx)
    word_list = load_words(words or c.settings.content_words)
    out = review_plan(
        c.stores(), c.keyring(), actor=c.actor(), plan_id=plan, words=word_list,
        workers=c.settings.workers,
    )  # fmt: skip
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(
        kv_table(
            f"content review #{out.id} of transfer plan #{out.plan}",
            [
                ("word list", f"{out.words_version} (sha256 {out.words_sha256[:16]}…)"),
                ("note columns", str(out.columns)),
                ("customers scanned", f"{out.customers:,}"),
                ("listed words (customers)", _per(out.words)),
                ("other people's data (customers)", _per(out.third_party)),
                ("customers affected", f"{out.affected:,}"),
                ("under 14 at import", f"{out.minors:,}"),
                ("rows with sensitive PI", f"{out.sensitive_rows:,}"),
            ],
        )
    )
    if out.columns == 0:
        c.console.print("the plan hands over no free text: nothing was read")
    c.console.print(f"next: dealvault compliance check {out.plan}")
