"""Alert delivery: the mail text, and webhooks signed with HMAC-SHA-256 over a timestamp and
the body (the same scheme checks the canary gateway's inbound reports)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any, Final

from dealvault.errors import Unavailable
from dealvault.monitor.alerts import AlertOut

TIMESTAMP_HEADER: Final = "X-Dealvault-Timestamp"
SIGNATURE_HEADER: Final = "X-Dealvault-Signature"
EVENT_HEADER: Final = "X-Dealvault-Event"
#: How far a signed request's timestamp may be from now (seconds): older ones are replays.
TOLERANCE: Final = 300


def signature(secret: bytes, *, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA-256 of ``timestamp``, a dot, and the body's bytes."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_problem(
    secret: bytes,
    *,
    timestamp: str | None,
    given: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE,
) -> str | None:
    """Why a signed request is not to be believed (None: it is): no or a stale timestamp, no
    signature, or one that does not match. Compared in constant time."""
    if not timestamp or not timestamp.isdigit():
        return f"missing or malformed {TIMESTAMP_HEADER} header"
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return f"the {TIMESTAMP_HEADER} is more than {tolerance} seconds away from now"
    if not given:
        return f"missing {SIGNATURE_HEADER} header"
    try:
        expected = signature(secret, timestamp=timestamp, body=body)
    except UnicodeEncodeError:  # pragma: no cover - isdigit() accepts other digits
        return f"malformed {TIMESTAMP_HEADER} header"
    if not hmac.compare_digest(expected.encode(), given.strip().encode("ascii", "replace")):
        return f"the {SIGNATURE_HEADER} does not match the body"
    return None


def payload(alert: AlertOut) -> dict[str, Any]:
    """What a webhook receives for an alert: its fields, as JSON."""
    return {"type": "dealvault.alert", "alert": alert.model_dump(mode="json")}


def body_bytes(doc: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces), the bytes that are signed and sent."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def post(url: str, *, secret: bytes, doc: dict[str, Any], timeout: float = 10) -> None:
    """POST ``doc`` to ``url`` signed with ``secret``; Unavailable unless it answers 2xx."""
    body = body_bytes(doc)
    stamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - an https or http URL from the settings
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(secret, timestamp=stamp, body=body),
            EVENT_HEADER: str(doc.get("type", "dealvault.alert")),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        raise Unavailable(f"the alert webhook did not answer ({type(exc).__name__})") from None
    if not 200 <= status < 300:
        raise Unavailable(f"the alert webhook answered {status}")


def mail_text(alert: AlertOut, *, public_url: str) -> tuple[str, str]:
    """(subject, body) of the mail for an alert."""
    where = f"deal {alert.deal}" if alert.deal else "the store"
    subject = f"[dealvault {alert.severity}] {alert.title}"[:200]
    lines = [
        f"Alert #{alert.id} ({alert.severity}) in {where}: {alert.title}",
        "",
        alert.explanation,
        "",
        f"rule: {alert.rule} ({alert.kind})",
        f"subject: {alert.subject}",
        f"count: {alert.count} in the window {alert.window_start:%Y-%m-%d %H:%M} to "
        f"{alert.window_end:%Y-%m-%d %H:%M} UTC",
    ]
    if alert.froze:
        lines.append(f"The deal {alert.deal} was frozen by this alert: every access stops.")
    lines += [
        "",
        f"See it and acknowledge it: dealvault alert show {alert.id}, or "
        f"{public_url.rstrip('/')}/api/alerts/{alert.id}",
    ]
    return subject, "\n".join(lines) + "\n"
