"""The one error tree of dealvault; edges turn these into exit codes or HTTP statuses."""

from __future__ import annotations


class DealvaultError(Exception):
    """Base of every expected failure. ``code`` is stable and machine-readable.

    Messages must never contain a personal value: name files, rows, columns and
    reasons, and show masked forms only.
    """

    code: str = "error"
    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class NotFound(DealvaultError):
    code = "not_found"
    exit_code = 3


class Forbidden(DealvaultError):
    code = "forbidden"
    exit_code = 4


class Unauthenticated(Forbidden):
    """No valid sign-in: no session or token, or one that ended (HTTP 401)."""

    code = "unauthenticated"


class Throttled(Forbidden):
    """Too many failed credential checks: locked for a while (HTTP 429)."""

    code = "throttled"


class Unavailable(DealvaultError):
    """A service the use case needs (the mail server) did not answer (HTTP 502)."""

    code = "unavailable"
    exit_code = 8


class Invalid(DealvaultError):
    code = "invalid"
    exit_code = 2


class Conflict(DealvaultError):
    code = "conflict"
    exit_code = 5


class Busy(Conflict):
    """Another job holds what this one needs (a lock wait timed out, a deadlock was broken):
    nothing was changed, and the same command may simply be run again later."""

    code = "busy"
    exit_code = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, retry


class IntegrityError(DealvaultError):
    """Data failed an integrity check: tampered ciphertext, bad signature, broken hash."""

    code = "integrity"
    exit_code = 6


class KeyUnavailable(DealvaultError):
    """A key could not be obtained: wrong passphrase, missing key file, shredded key."""

    code = "key"
    exit_code = 7


class Shredded(KeyUnavailable):
    """The data's key was destroyed on purpose (crypto-shredding)."""

    code = "shredded"


class InputError(Invalid):
    """Bad input data; the message names file, row and column, never the value."""

    code = "bad_input"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        code: str | None = None,
    ) -> None:
        where = []
        if file is not None:
            where.append(file)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, code=code)
        self.file = file
        self.row = row
        self.column = column
