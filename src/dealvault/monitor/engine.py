"""Evaluating the rules over a batch of decoded events: every rule's detector, in Polars."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from dealvault.monitor import detect_events, detect_people
from dealvault.monitor.hits import Context, local_columns, no_hits
from dealvault.monitor.rules import Rule, RuleSet

Detector = Callable[[pl.DataFrame, Context, Rule], pl.DataFrame]

#: The detector of each kind over events (audit_integrity, checkpoint_chain and canary_hit
#: are raised outside the event stream: monitor.integrity, flows.canary_hits).
DETECTORS: Final[dict[str, Detector]] = {
    "volume": detect_people.volume,
    "unusual_hour": detect_people.unusual_hour,
    "new_address": detect_people.new_address,
    "new_device": detect_people.new_device,
    "two_addresses": detect_people.two_addresses,
    "denials": detect_events.refusals,
    "above_grant": detect_events.refusals,
    "frozen_attempt": detect_events.refusals,
    "agreement_lapsed": detect_events.refusals,
    "downloads": detect_events.downloads,
    "row_cap": detect_events.row_cap,
    "key_window": detect_events.key_window,
}
#: Kinds whose sliding window in minutes reaches back before the batch.
WINDOWED: Final = ("denials", "above_grant", "frozen_attempt", "agreement_lapsed", "downloads")


def lookback_minutes(rules: RuleSet) -> int:
    """How far before a batch's first event the windowed rules look (minutes)."""
    spans = [int(r["minutes"]) for r in rules.rules if r.kind in (*WINDOWED, "two_addresses")]
    return max(spans, default=0)


def baseline_days(rules: RuleSet) -> int:
    """How many days of stored activity the baselines need."""
    spans = [int(r["baseline_days"]) for r in rules.rules if r.kind in ("volume", "unusual_hour")]
    return max(spans, default=0)


def prepare(events: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """The events with the local-time and event-class columns every detector reads."""
    return local_columns(events, rules.utc_offset_minutes)


def evaluate(events: pl.DataFrame, ctx: Context, rules: RuleSet) -> pl.DataFrame:
    """Every rule's hits over ``events`` (prepared; the batch is ``seq >= ctx.start_seq``,
    earlier rows are the windows' recent past)."""
    parts = [DETECTORS[r.kind](events, ctx, r) for r in rules.rules if r.kind in DETECTORS]
    parts = [p for p in parts if not p.is_empty()]
    return pl.concat(parts) if parts else no_hits()
