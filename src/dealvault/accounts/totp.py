"""Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s) with replay refusal,
the enrolment QR code (SVG) and recovery codes."""

from __future__ import annotations

import io
import secrets
import time

import pyotp

STEP = 30
#: codes of the previous and next time step are accepted too (clock drift)
WINDOW = 1
RECOVERY_CODES = 10


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an SVG document."""
    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue().decode("utf-8")


def matching_step(secret: str, code: str, *, after: int, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to, when it is valid within the drift window and later
    than ``after`` (the last step accepted: a code is never accepted twice); else None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    at = time.time() if now is None else now
    current = int(at // STEP)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > after and secrets.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten one-time recovery codes, ``xxxx-xxxx-xxxx`` of lowercase base32 (60 bits each)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def normalise_recovery_code(code: str) -> str:
    return code.strip().lower().replace(" ", "").replace("-", "")
