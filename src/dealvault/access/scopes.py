"""What an identity short of full sign-in may do: API token scopes, and the limit on a
session whose second factor is not yet checked. Applied by ``decide`` before any policy."""

from __future__ import annotations

from dealvault.access.actions import CATALOGUE
from dealvault.access.principal import Authn, Principal

#: managing one's own account (password, second factors, sessions, tokens)
OWN_ACCOUNT = "account.own"

_READS = frozenset(
    {"read", "audit_log", "audit_log.prove", "audit_log.export", "trace", "package.verify"}
    | {"package.inbox", "package.fetch", "agreement.review"}
    | {a for a in CATALOGUE if a.endswith(".read") or a == "store.show"}
)
_APPROVALS = frozenset(
    {"access.approve", "access.deny", "access.revoke", "plan.approve", "plan.deny",
     "package.review", "compliance.waive"}
)  # fmt: skip

#: what only the person, signed in, may do: accepting an agreement, signing an impact
#: assessment off: each is their signature
PERSONAL = frozenset({"agreement.accept", "compliance.pia_sign"})

#: token scope -> the actions it covers ("manage": every other action but the own account
#: and a signature)
SCOPES: dict[str, frozenset[str]] = {
    "read": _READS,
    "request": frozenset({"access.request"}),
    "approve": _APPROVALS,
    "manage": frozenset(CATALOGUE)
    - _READS
    - _APPROVALS
    - PERSONAL
    - {"access.request", OWN_ACCOUNT},
}


#: the refusal of everything but the sign-in steps to a session without its second factor
INCOMPLETE = "sign-in is not complete: a second factor (TOTP code or passkey) is needed first"


def principal_problem(principal: Principal, *, action: str) -> str | None:
    """Why ``principal`` may not even ask for ``action`` (None: the policy decides)."""
    if principal.authn in (Authn.PASSWORD, Authn.LINK) and action != OWN_ACCOUNT:
        return INCOMPLETE
    if principal.scopes is not None:
        if action == OWN_ACCOUNT:
            return "an API token cannot manage the account it belongs to: sign in"
        if action in PERSONAL:
            return f"an API token cannot sign for its person ({action}): sign in"
        if not any(action in SCOPES.get(s, frozenset()) for s in principal.scopes):
            held = " ".join(sorted(principal.scopes))
            return f"the API token's scopes ({held}) do not cover {action}"
    return None
