"""Detectors of a person's behaviour against their own history and their role's: volume of
records (robust z-score), unusual hours, new client addresses and devices, two addresses at
once."""

from __future__ import annotations

from typing import Final

import polars as pl

from dealvault.monitor.hits import Context, deal_words, finish, no_hits
from dealvault.monitor.profiles import activity_of
from dealvault.monitor.rules import Rule

#: MAD x 1.4826 estimates the standard deviation of normally distributed counts.
MAD_SCALE: Final = 1.4826
#: The robust z-score's denominator is at least this (a baseline of identical days has MAD 0).
MIN_SCALE: Final = 1.0
NO_ROLE: Final = "(no role)"


def _day_totals(activity: pl.DataFrame) -> pl.DataFrame:
    """(actor, deal, day, records) of the days with records."""
    return (
        activity.group_by("actor", "deal", "day")
        .agg(pl.col("records").sum())
        .filter(pl.col("records") > 0)
    )


def _robust(samples: pl.DataFrame, keys: list[str], prefix: str) -> pl.DataFrame:
    """Per ``keys``: the median of ``records``, its MAD and the number of samples."""
    r = pl.col("records")
    return samples.group_by(keys).agg(
        r.median().alias(f"{prefix}_median"),
        (r - r.median()).abs().median().alias(f"{prefix}_mad"),
        pl.len().alias(f"{prefix}_n"),
    )


def _z(prefix: str, min_days: int) -> pl.Expr:
    """The robust z-score of ``running`` against a baseline; null without enough days."""
    scale = pl.max_horizontal(pl.col(f"{prefix}_mad") * MAD_SCALE, pl.lit(MIN_SCALE))
    z = (pl.col("running") - pl.col(f"{prefix}_median")) / scale
    return pl.when(pl.col(f"{prefix}_n").fill_null(0) >= min_days).then(z.round(2))


def _baseline_words(prefix: str, what: pl.Expr) -> pl.Expr:
    return (
        pl.when(pl.col(f"z_{prefix}").is_null())
        .then(pl.format("{}: fewer than the rule's minimum of active days, not used", what))
        .otherwise(
            pl.format(
                "{}: median {} a day over {} days, MAD {}, robust z {}",
                what,
                pl.col(f"{prefix}_median").round(1),
                pl.col(f"{prefix}_n"),
                pl.col(f"{prefix}_mad").round(1),
                pl.col(f"z_{prefix}"),
            )
        )
    )


def volume(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """Records a person viewed or exported in a deal in one local day, against the previous
    ``baseline_days`` days. Statistic: robust z = (x - median) / max(1.4826 * MAD, 1) of the
    daily counts, over the person's own active days in that deal, and over the active
    person-days of everyone else holding the same role (any deal). A hit needs x >=
    ``min_records`` and z >= ``z`` for each baseline with at least ``min_days`` days, and at
    least one such baseline (a newcomer is compared with their role alone)."""
    batch = events.filter(
        pl.col("seq") >= ctx.start_seq, pl.col("records") > 0, pl.col("actor").is_not_null()
    ).with_columns(pl.col("deal").fill_null(""))
    if batch.is_empty():
        return no_hits()
    n_days, min_days = int(rule["baseline_days"]), int(rule["min_days"])
    stored = _day_totals(ctx.activity) if not ctx.activity.is_empty() else None
    days = _day_totals(activity_of(batch))
    if stored is not None:
        days = (
            pl.concat([stored, days]).group_by("actor", "deal", "day").agg(pl.col("records").sum())
        )
    before = (
        stored.rename({"records": "before"})
        if stored is not None
        else pl.DataFrame(schema={**days.drop("records").schema, "before": pl.Int64})
    )
    ev = (
        batch.sort("seq")
        .join(before, on=["actor", "deal", "day"], how="left")
        .with_columns(
            running=pl.col("before").fill_null(0)
            + pl.col("records").cum_sum().over("actor", "deal", "day")
        )
    )
    roles = ctx.roles.with_columns(pl.col("deal").fill_null(""))
    keys = ["actor", "deal", "day"]
    groups = ev.select(keys).unique().join(roles, on=["deal", "actor"], how="left")
    groups = groups.with_columns(pl.col("role").fill_null(NO_ROLE))
    window = (pl.col("day_b") < pl.col("day")) & (
        pl.col("day_b") >= pl.col("day") - pl.duration(days=n_days)
    )
    own = _robust(
        groups.join(days.rename({"day": "day_b"}), on=["actor", "deal"]).filter(window),
        keys,
        "own",
    )
    samples = days.join(roles, on=["deal", "actor"], how="left").with_columns(
        pl.col("role").fill_null(NO_ROLE)
    )
    peers = groups.join(
        samples.rename({"day": "day_b", "actor": "actor_b", "deal": "deal_b"}), on="role"
    ).filter(window, pl.col("actor_b") != pl.col("actor"))
    role = _robust(peers, keys, "role")
    z = float(rule["z"])
    found = (
        ev.join(groups, on=keys, how="left")
        .join(own, on=keys, how="left")
        .join(role, on=keys, how="left")
        .with_columns(z_own=_z("own", min_days), z_role=_z("role", min_days))
        .filter(
            pl.col("running") >= int(rule["min_records"]),
            pl.col("z_own").is_not_null() | pl.col("z_role").is_not_null(),
            pl.col("z_own").is_null() | (pl.col("z_own") >= z),
            pl.col("z_role").is_null() | (pl.col("z_role") >= z),
        )
        .with_columns(pl.when(pl.col("deal") != "").then(pl.col("deal")).alias("deal"))
    )
    if found.is_empty():
        return no_hits()
    found = found.with_columns(
        title=pl.format("{} read {} records {} on {}", "actor", "running", deal_words(), "day"),
        explanation=pl.format(
            "{} viewed or exported {} records {} on {} (local day); {}; {}; the rule: robust "
            "z >= {} and at least {} records",
            pl.col("actor"),
            pl.col("running"),
            deal_words(),
            pl.col("day"),
            _baseline_words("own", pl.lit("own baseline")),
            _baseline_words("role", pl.format("role {}", "role")),
            pl.lit(z),
            pl.lit(int(rule["min_records"])),
        ),
    )
    return finish(
        found,
        rule.id,
        subject=pl.col("actor"),
        details=["running", "role", "own_median", "own_mad", "own_n", "z_own", "role_median",
                 "role_mad", "role_n", "z_role"],
    )  # fmt: skip


def unusual_hour(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """A person acting in a local hour in which, over the previous ``baseline_days`` days
    (at least ``min_events`` events on ``min_days`` days), they never acted within
    ``margin_hours`` of it."""
    batch = events.filter(pl.col("seq") >= ctx.start_seq, pl.col("actor").is_not_null())
    if batch.is_empty():
        return no_hits()
    n_days, margin = int(rule["baseline_days"]), int(rule["margin_hours"])
    hours = activity_of(batch)
    if not ctx.activity.is_empty():
        hours = pl.concat([ctx.activity, hours])
    hours = hours.group_by("actor", "day", "hour").agg(pl.col("events").sum())
    cells = batch.group_by("actor", "day", "hour").agg(pl.len().alias("in_hour"))
    gap = (pl.col("hour_b") - pl.col("hour")).abs()
    near = pl.min_horizontal(gap, 24 - gap) <= margin
    base = (
        cells.join(hours.rename({"day": "day_b", "hour": "hour_b"}), on="actor")
        .filter(
            pl.col("day_b") < pl.col("day"),
            pl.col("day_b") >= pl.col("day") - pl.duration(days=n_days),
        )
        .group_by("actor", "day", "hour")
        .agg(
            pl.col("events").sum().alias("total"),
            pl.col("day_b").n_unique().alias("active_days"),
            pl.col("events").filter(near).sum().alias("near"),
        )
        .filter(
            pl.col("total") >= int(rule["min_events"]),
            pl.col("active_days") >= int(rule["min_days"]),
            pl.col("near") == 0,
        )
    )
    found = batch.join(base, on=["actor", "day", "hour"], how="inner")
    if found.is_empty():
        return no_hits()
    hh = pl.col("hour").cast(pl.String).str.zfill(2)
    found = found.with_columns(
        title=pl.format("{} active at an unusual hour ({}:00 local)", "actor", hh),
        explanation=pl.format(
            "{} acted at {}:00-{}:59 local on {} ({} {}); in the previous {} days they acted "
            "{} times on {} days, never within {} hour(s) of it",
            pl.col("actor"),
            hh,
            hh,
            pl.col("day"),
            pl.col("action"),
            deal_words(),
            pl.lit(n_days),
            pl.col("total"),
            pl.col("active_days"),
            pl.lit(margin),
        ),
    )
    return finish(found, rule.id, subject=pl.col("actor"), details=["hour", "total", "active_days"])


def _first_uses(
    events: pl.DataFrame, ctx: Context, rule: Rule, *, column: str, stored: pl.DataFrame
) -> pl.DataFrame:
    """The batch's events in which a person used a value of ``column`` for the first time
    (never stored, not earlier in the batch), once they had used at least ``min_known``
    others; ``known`` is how many they had."""
    batch = events.filter(
        pl.col("seq") >= ctx.start_seq,
        pl.col(column).is_not_null(),
        pl.col("actor").is_not_null(),
    )
    if batch.is_empty():
        return batch
    firsts = batch.sort("seq").unique(["actor", column], keep="first")
    known = pl.DataFrame(schema={"actor": pl.String, "stored": pl.UInt32})
    if not stored.is_empty():
        firsts = firsts.join(stored.select("actor", column), on=["actor", column], how="anti")
        known = stored.group_by("actor").agg(pl.len().alias("stored"))
    return (
        firsts.sort("seq")
        .join(known, on="actor", how="left")
        .with_columns(
            known=pl.col("stored").fill_null(0).cast(pl.Int64)
            + pl.int_range(pl.len()).over("actor").cast(pl.Int64)
        )
        .filter(pl.col("known") >= int(rule["min_known"]))
    )


def new_address(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """The first event of a person from a client address they never used before, once they
    have used at least ``min_known`` other addresses (everyone has a first one)."""
    found = _first_uses(events, ctx, rule, column="client", stored=ctx.clients)
    if found.is_empty():
        return no_hits()
    found = found.with_columns(
        title=pl.format("{} acted from a new address", "actor"),
        explanation=pl.format(
            "{} acted from the client address {}, which they never used before ({} other "
            "addresses known): {} {} at {}",
            pl.col("actor"),
            pl.col("client"),
            pl.col("known"),
            pl.col("action"),
            deal_words(),
            pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        ),
    )
    return finish(found, rule.id, subject=pl.col("actor"), details=["client", "known"])


def new_device(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """The first event of a person from a device they never used before, once they have
    used at least ``min_known`` other devices. A device is its recorded id (a hash of the
    browser's cookie or the client's header, or the API token standing in for one)."""
    found = _first_uses(events, ctx, rule, column="device", stored=ctx.devices)
    if found.is_empty():
        return no_hits()
    found = found.with_columns(
        title=pl.format("{} acted from a new device", "actor"),
        explanation=pl.format(
            "{} acted from the device {}, which they never used before ({} other devices "
            "known): {} {} at {}",
            pl.col("actor"),
            pl.col("device"),
            pl.col("known"),
            pl.col("action"),
            deal_words(),
            pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        ),
    )
    return finish(found, rule.id, subject=pl.col("actor"), details=["device", "known"])


def two_addresses(events: pl.DataFrame, ctx: Context, rule: Rule) -> pl.DataFrame:
    """A person's event from another client address than their previous event, less than
    ``minutes`` later."""
    seen = events.filter(pl.col("client").is_not_null(), pl.col("actor").is_not_null())
    if seen.is_empty():
        return no_hits()
    minutes = int(rule["minutes"])
    found = (
        seen.sort("actor", "ts", "seq")
        .with_columns(
            previous=pl.col("client").shift().over("actor"),
            previous_ts=pl.col("ts").shift().over("actor"),
        )
        .with_columns(gap=(pl.col("ts") - pl.col("previous_ts")).dt.total_seconds())
        .filter(
            pl.col("seq") >= ctx.start_seq,
            pl.col("previous").is_not_null(),
            pl.col("previous") != pl.col("client"),
            pl.col("gap") < minutes * 60,
        )
    )
    if found.is_empty():
        return no_hits()
    found = found.with_columns(
        title=pl.format("{} acted from two addresses at once", "actor"),
        explanation=pl.format(
            "{} acted from {} and, {} seconds later, from {} ({} {}); the rule: two addresses "
            "within {} minutes",
            pl.col("actor"),
            pl.col("previous"),
            pl.col("gap").round(0).cast(pl.Int64),
            pl.col("client"),
            pl.col("action"),
            deal_words(),
            pl.lit(minutes),
        ),
    )
    return finish(found, rule.id, subject=pl.col("actor"), details=["previous", "client", "gap"])
