"""Passwords: Argon2id hashes and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dealvault.errors import Invalid

#: OWASP's second Argon2id setting (19 MiB, t=2, p=1): one check is a few tens of ms
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
#: a hash to check against when the account does not exist, so timing does not tell
_DUMMY = _HASHER.hash("not a password of anyone")
#: zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable" against online and
#: throttled offline attacks
MIN_SCORE = 3


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (a missing hash costs the same time)."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_new(password: str, *, email: str, name: str, min_length: int) -> None:
    """Refuse a password that is too short, contains the e-mail (or its local part) or the
    person's name, or is common or guessable (zxcvbn's dictionaries of leaked passwords,
    names and words, keyboard patterns, dates and repeats)."""
    from zxcvbn import zxcvbn

    if len(password) < min_length:
        raise Invalid(f"the password is too short: use at least {min_length} characters")
    if len(password) > 256:
        raise Invalid("the password is too long: use at most 256 characters")
    low = password.casefold()
    local = email.split("@", 1)[0].casefold()
    if email.casefold() in low or (len(local) >= 3 and local in low):
        raise Invalid("the password contains your e-mail address: choose another")
    if name and len(name) >= 3 and name.casefold() in low:
        raise Invalid("the password contains your name: choose another")
    result = zxcvbn(password[:100], user_inputs=[email, local, name, "dealvault"])
    if result["score"] < MIN_SCORE:
        hint = result["feedback"].get("warning") or "it is too easy to guess"
        raise Invalid(f"the password is too common or guessable ({hint}): choose another")
