"""Detectors over single events and sliding windows: refusals (repeated, above the grant, on a
frozen deal, after an agreement lapsed), downloads, row caps used up, key operations outside
the change window. Each takes the decoded events (the batch plus the recent past its windows
reach into) and returns hits for the batch's events only."""

from __future__ import annotations

from typing import Final

import polars as pl

from dealvault.monitor.hits import Context, deal_words, finish, no_hits
from dealvault.monitor.rules import DAYS, Rule, clock_minutes

#: What the decision point writes when a request asks for more than is granted or allowed
#: (access.policy, access.grant_use): above the role's ceiling, a category capped, grants in
#: force that do not cover it, a grant's row cap used up.
ABOVE_GRANT: Final = (
    r"is above the ceiling|is capped at|in force not covering it|row cap of grant \d+ is used up"
)
#: A refusal because the deal is frozen (access.decision, the policy's frozen forbid).
FROZEN: Final = r"is frozen"
#: A refusal naming an expired or revoked agreement (access.agreements) or grant
#: (access.grant_use's summary: "grants: 2 expired 2026-05-01, 1 revoked").
LAPSED: Final = (
    r"agreement #\d+ (expired on|was revoked at)|grants: [^()]*\b\d+ (expired \d{4}-|revoked)"
)

_REFUSALS: Final = {
    "denials": (None, "was refused", "refusals"),
    "above_grant": (ABOVE_GRANT, "asked above what they are granted", "attempts above the grant"),
    "frozen_attempt": (FROZEN, "tried to act on a frozen deal", "attempts on a frozen deal"),
    "agreement_lapsed": (
        LAPSED,
        "was refused for a lapsed agreement or grant",
        "attempts after an agreement or grant lapsed",
    ),
}


def _windowed(frame: pl.DataFrame, minutes: int) -> pl.DataFrame:
    """``frame`` with ``n``: the person's rows in the ``minutes`` up to each one, in log order
    (that one included, later rows with the same time not; a row exactly ``minutes`` earlier
    is outside)."""
    rows = frame.sort("ts", "seq").with_columns(
        idx=pl.int_range(pl.len(), dtype=pl.Int64).over("actor"),
        since=pl.col("ts") - pl.duration(minutes=minutes) + pl.duration(microseconds=1),
    )
    first = rows.select("actor", first_ts="ts", first_idx="idx").unique(
        ["actor", "first_ts"], keep="first"
    )
    found = rows.sort("since").join_asof(
        first.sort("first_ts"),
        left_on="since",
        right_on="first_ts",
        by="actor",
        strategy="forward",
        check_sortedness=False,  # sorted by time as a whole, hence within each person
    )
    return found.with_columns(n=pl.col("idx") - pl.col("first_idx") + 1).sort("seq")


def refusals(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """``count`` refusals of one person (of the rule's kind) within ``minutes``."""
    pattern, verb, noun = _REFUSALS[rule.kind]
    denied = events.filter(pl.col("decision") == "deny", pl.col("actor").is_not_null())
    reason = pl.col("reasons").list.join("; ")
    if pattern is not None:
        denied = denied.filter(reason.str.contains(pattern))
    if denied.is_empty():
        return no_hits()
    minutes, count = int(rule["minutes"]), int(rule["count"])
    found = _windowed(denied, minutes).filter(pl.col("n") >= count, pl.col("seq") >= ctx.start_seq)
    shown = reason.str.slice(0, 300)
    found = found.with_columns(
        title=pl.format("{} {} {}", pl.col("actor"), pl.lit(verb), deal_words()),
        explanation=pl.format(
            "{}: {} within {} minutes by {} {}; the last: {} at {} ({})",
            pl.lit(noun),
            pl.col("n"),
            pl.lit(minutes),
            pl.col("actor"),
            deal_words(),
            pl.col("action"),
            pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
            shown,
        ),
        window_minutes=pl.lit(minutes),
    )
    return finish(
        found, rule.id, subject=pl.col("actor"), details=["n", "window_minutes", "action"]
    )


def downloads(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """``count`` downloads (disclosures taken out whole, packages fetched) by one person
    within ``minutes``."""
    taken = events.filter(pl.col("download"), pl.col("actor").is_not_null())
    if taken.is_empty():
        return no_hits()
    minutes, count = int(rule["minutes"]), int(rule["count"])
    found = _windowed(taken, minutes).filter(pl.col("n") >= count, pl.col("seq") >= ctx.start_seq)
    found = found.with_columns(
        title=pl.format(
            "{} took out {} downloads within {} minutes", "actor", "n", pl.lit(minutes)
        ),
        explanation=pl.format(
            "{} took {} disclosures or packages out {} within {} minutes (the rule's limit: {}); "
            "the last: {} at {} level, {} records, at {}",
            pl.col("actor"),
            pl.col("n"),
            deal_words(),
            pl.lit(minutes),
            pl.lit(count),
            pl.col("action"),
            pl.col("level").fill_null("-"),
            pl.col("records"),
            pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        ),
        window_minutes=pl.lit(minutes),
    )
    return finish(
        found, rule.id, subject=pl.col("actor"), details=["n", "window_minutes", "records"]
    )


def row_cap(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """A disclosure after which a grant has used ``share`` of its row cap or more, within
    ``hours`` of the grant."""
    drawn = events.filter(
        pl.col("seq") >= ctx.start_seq,
        pl.col("action") == "disclose",
        pl.col("decision") == "allow",
        pl.col("grant").is_not_null(),
        pl.col("rows_left_before").is_not_null(),
    )
    if drawn.is_empty() or ctx.grants.is_empty():
        return no_hits()
    share, hours = float(rule["share"]), int(rule["hours"])
    found = (
        drawn.join(ctx.grants, on="grant", how="inner")
        .filter(pl.col("row_cap") > 0)
        .with_columns(
            used=pl.col("row_cap") - pl.col("rows_left_before") + pl.col("rows").fill_null(0)
        )
        .with_columns(
            share=pl.col("used") / pl.col("row_cap"),
            after_hours=(pl.col("ts") - pl.col("granted_at")).dt.total_seconds() / 3600,
        )
        .filter(pl.col("share") >= share, pl.col("after_hours") <= hours)
    )
    found = found.with_columns(
        title=pl.format("grant #{} of {} nearly used up", "grant", "actor"),
        explanation=pl.format(
            "{} has used {} of the {} rows of grant #{} {} ({}%) {} hours after it was granted "
            "(the rule: {}% within {} hours)",
            pl.col("actor"),
            pl.col("used"),
            pl.col("row_cap"),
            pl.col("grant"),
            deal_words(),
            (pl.col("share") * 100).round(1),
            pl.col("after_hours").round(1),
            pl.lit(round(share * 100, 1)),
            pl.lit(hours),
        ),
    )
    return finish(
        found,
        rule.id,
        subject=pl.format("grant #{}", "grant"),
        details=["actor", "used", "row_cap", "after_hours"],
    )


def key_window(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """A key operation (``actions``) done, not refused, outside the change window: local days
    ``days``, from ``start`` to ``end``."""
    start = clock_minutes(str(rule["start"]), "start")
    end = clock_minutes(str(rule["end"]), "end")
    days = [DAYS.index(d) + 1 for d in rule["days"]]
    inside = pl.col("weekday").is_in(days) & pl.col("minute_of_day").is_between(
        start, end, closed="left"
    )
    found = events.filter(
        pl.col("seq") >= ctx.start_seq,
        pl.col("action").is_in(list(rule["actions"])),
        pl.col("decision") == "allow",
        ~inside,
    )
    if found.is_empty():
        return no_hits()
    window = f"{', '.join(rule['days'])} {rule['start']}-{rule['end']}"
    found = found.with_columns(
        title=pl.format("{} outside the change window", "action"),
        explanation=pl.format(
            "{} did {} {} at {} (local {} {}), outside the change window ({} local)",
            pl.col("actor"),
            pl.col("action"),
            deal_words(),
            pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
            pl.col("day").dt.strftime("%a"),
            pl.format(
                "{}:{}",
                (pl.col("minute_of_day") // 60).cast(pl.String).str.zfill(2),
                (pl.col("minute_of_day") % 60).cast(pl.String).str.zfill(2),
            ),
            pl.lit(window),
        ),
    )
    return finish(found, rule.id, subject=pl.col("actor"), details=["action", "minute_of_day"])
