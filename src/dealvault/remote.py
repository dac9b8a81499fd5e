"""The remote CLI's side of the API: a signed-in party's commands go to the server, which
decides and records them; the answers are the same models the local flows return."""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from dealvault.access import device as dev
from dealvault.access.schemas import DealOut
from dealvault.errors import (
    Conflict,
    DealvaultError,
    Forbidden,
    IntegrityError,
    Invalid,
    NotFound,
    Throttled,
    Unauthenticated,
    Unavailable,
)
from dealvault.files import ensure_private_dir, read_secret_text, write_private

COOKIE = "__Host-dealvault"
_ERRORS: dict[int, type[DealvaultError]] = {
    400: Invalid,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: Throttled,
}


def login_file() -> Path:
    """Where ``dealvault login`` keeps its session: DEALVAULT_LOGIN_FILE, else the user's
    config directory (mode 0600)."""
    given = os.environ.get("DEALVAULT_LOGIN_FILE")
    if given:
        return Path(given)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "dealvault" / "login.json"


def device_file() -> Path:
    """Where the remote CLI keeps its device value: DEALVAULT_DEVICE_FILE, else next to the
    login file (mode 0600)."""
    given = os.environ.get("DEALVAULT_DEVICE_FILE")
    return Path(given) if given else login_file().parent / "device"


def device_value(path: Path | None = None) -> str:
    """This installation's device value, sent as the device header with every request: made
    once (random, mode 0600) and kept, so the server tells this computer from others without
    learning anything about it. A damaged file is made again."""
    path = path or device_file()
    if path.exists():
        raw = read_secret_text(path, what="device file").strip()
        if dev.valid(raw):
            return raw
    raw = dev.new_value()
    ensure_private_dir(path.parent, what=None)
    write_private(path, raw + "\n")
    return raw


@dataclass(frozen=True)
class Login:
    """A stored sign-in: a session (secret + CSRF token) or an API token."""

    server: str
    email: str
    kind: str  # session | token
    secret: str
    csrf: str | None = None
    ca_file: str | None = None

    def save(self, path: Path) -> None:
        ensure_private_dir(path.parent, what=None)
        write_private(path, json.dumps(self.__dict__, indent=1))

    @classmethod
    def load(cls, path: Path) -> Login | None:
        if not path.exists():
            return None
        try:
            return cls(**json.loads(read_secret_text(path, what="login file")))
        except (ValueError, TypeError):
            raise Invalid(f"login file {path} is damaged: run dealvault login again") from None


def _raise(r: httpx.Response) -> None:
    if r.status_code < 400:
        return
    try:
        body = r.json()
        message = str(body.get("message") or body.get("detail") or r.reason_phrase)
    except ValueError:
        message = r.reason_phrase
    kind = _ERRORS.get(r.status_code, Unavailable)
    raise kind(f"{message} (server answered {r.status_code})")


@dataclass(frozen=True)
class ViewAsk:
    """What a ``view`` asks the server for."""

    deal: str
    dataset: str
    purpose: str
    level: str | None
    table: str
    group_by: list[str]
    measure: list[str]
    #: a use restricted per customer (``marketing``), or None
    use: str | None = None


class Remote:
    """An HTTP client of the server, signed in as ``login``."""

    def __init__(self, login: Login, *, transport: httpx.BaseTransport | None = None) -> None:
        self.login = login
        headers = {"User-Agent": "dealvault-cli", dev.HEADER: device_value()}
        if login.kind == "token":
            headers["Authorization"] = f"Bearer {login.secret}"
        else:
            headers["Cookie"] = f"{COOKIE}={login.secret}"
            if login.csrf:
                headers["X-CSRF-Token"] = login.csrf
        self.http = httpx.Client(
            base_url=login.server.rstrip("/"),
            headers=headers,
            verify=login.ca_file or True,
            timeout=120,
            transport=transport,
        )

    def _get(self, path: str, **params: Any) -> Any:
        try:
            r = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach {self.login.server} ({type(exc).__name__})") from None
        _raise(r)
        return r.json()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            r = self.http.post(path, json=body or {})
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach {self.login.server} ({type(exc).__name__})") from None
        _raise(r)
        return r.json() if r.content else None

    # -- the use cases -------------------------------------------------------------------
    def list_deals(self) -> list[DealOut]:
        return [DealOut.model_validate(d) for d in self._get("/api/deals")]

    def show_deal(self, code: str) -> DealOut:
        return DealOut.model_validate(self._get(f"/api/deals/{_seg(code)}"))

    def inventory(self, *, deal: str, dataset: str) -> Any:
        from dealvault.flows.inventory import InventoryOut

        return InventoryOut.model_validate(
            self._get(f"/api/deals/{_seg(deal)}/datasets/{_seg(dataset)}/inventory")
        )

    def request_access(self, *, deal: str, **body: Any) -> Any:
        from dealvault.flows.access_requests import RequestOut

        return RequestOut.model_validate(self._post(f"/api/deals/{_seg(deal)}/requests", body))

    def list_requests(self, *, deal: str, status: str | None, mine: bool) -> list[Any]:
        from dealvault.flows.access_requests import RequestOut

        rows = self._get(f"/api/deals/{_seg(deal)}/requests", status=status, mine=mine)
        return [RequestOut.model_validate(r) for r in rows]

    def show_request(self, request_id: int) -> Any:
        from dealvault.flows.access_requests import RequestOut

        return RequestOut.model_validate(self._get(f"/api/requests/{request_id}"))

    def approve_request(self, request_id: int, *, comment: str | None, role: str | None) -> Any:
        from dealvault.flows.access_requests import RequestOut

        body = {"comment": comment, "role": role}
        return RequestOut.model_validate(self._post(f"/api/requests/{request_id}/approve", body))

    def deny_request(self, request_id: int, *, reason: str) -> Any:
        from dealvault.flows.access_requests import RequestOut

        body = {"reason": reason}
        return RequestOut.model_validate(self._post(f"/api/requests/{request_id}/deny", body))

    def alerts(
        self, *, deal: str | None, status: str | None, severity: str | None, limit: int
    ) -> list[Any]:
        from dealvault.monitor.alerts import AlertOut

        path = f"/api/deals/{_seg(deal)}/alerts" if deal is not None else "/api/alerts"
        rows = self._get(path, status=status, severity=severity, limit=limit)
        return [AlertOut.model_validate(r) for r in rows]

    def alert(self, alert_id: int) -> Any:
        from dealvault.monitor.alerts import AlertOut

        return AlertOut.model_validate(self._get(f"/api/alerts/{alert_id}"))

    def acknowledge_alert(self, alert_id: int, *, note: str) -> Any:
        from dealvault.monitor.alerts import AlertOut

        return AlertOut.model_validate(self._post(f"/api/alerts/{alert_id}/ack", {"note": note}))

    def _params(self, ask: ViewAsk) -> dict[str, Any]:
        params: dict[str, Any] = {"purpose": ask.purpose, "table": ask.table, "use": ask.use}
        if ask.level:
            params["level"] = ask.level
        if ask.group_by:
            params["group_by"] = ask.group_by
        if ask.measure:
            params["measure"] = ask.measure
        return params

    def view(self, ask: ViewAsk, *, limit: int) -> tuple[dict[str, Any], pl.DataFrame]:
        """The metadata and the first ``limit`` rows the server allows."""
        path = f"/api/deals/{_seg(ask.deal)}/datasets/{_seg(ask.dataset)}/view"
        page = self._get(path, **self._params(ask), limit=max(1, min(limit, 500)))
        frame = pl.DataFrame(page["rows"]) if page["rows"] else pl.DataFrame()
        meta = dict(page["meta"])
        meta["rows"] = page["total"]
        return meta, frame

    def _bytes(self, path: str, **params: Any) -> bytes:
        """A file the server sends (a download), whole."""
        try:
            r = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach {self.login.server} ({type(exc).__name__})") from None
        _raise(r)
        return r.content

    def download(self, ask: ViewAsk, *, fmt: str, out: Path) -> None:
        """The file as the server writes it (level header, canaries), saved 0600."""
        path = f"/api/deals/{_seg(ask.deal)}/datasets/{_seg(ask.dataset)}/download"
        write_private(out, self._bytes(path, **self._params(ask), format=fmt))

    def audit_proof(self, *, deal: str, seq: int) -> tuple[bytes, bytes]:
        """The proof of event ``seq`` of ``deal`` and the event's bytes."""
        got = self._get(f"/api/deals/{_seg(deal)}/audit/events/{int(seq)}/proof")
        return str(got["proof"]).encode("utf-8"), str(got["event"]).encode("utf-8")

    def audit_export(self, *, deal: str, out_dir: Path) -> dict[str, Any]:
        """The deal's audit bundle, unpacked into ``out_dir``; its manifest."""
        unpack_bundle(self._bytes(f"/api/deals/{_seg(deal)}/audit/export"), out_dir=out_dir)
        return dict(json.loads((out_dir / "manifest.json").read_text("utf-8")))

    def audit_report(self, *, deal: str, fmt: str, out: Path) -> None:
        write_private(out, self._bytes(f"/api/deals/{_seg(deal)}/audit/report", format=fmt))

    def audit_log(self, *, deal: str, action: str | None, limit: int) -> list[dict[str, Any]]:
        rows = self._get(f"/api/deals/{_seg(deal)}/audit", action=action, limit=limit)
        return list(rows)

    def package_inbox(self, *, deal: str) -> list[Any]:
        from dealvault.flows.transfer import LedgerEntry

        rows = self._get(f"/api/deals/{_seg(deal)}/packages/inbox")
        return [LedgerEntry.model_validate(r) for r in rows]

    def package_fetch(self, package_id: int, *, out: Path) -> None:
        """A transfer package's tar, saved 0600 at ``out``."""
        from dealvault.files import open_private

        try:
            with self.http.stream("GET", f"/api/packages/{int(package_id)}/download") as r:
                if r.status_code >= 400:
                    r.read()
                    _raise(r)
                with open_private(out, "wb") as fh:
                    for chunk in r.iter_bytes(1 << 20):
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            out.unlink(missing_ok=True)
            raise Unavailable(f"cannot reach {self.login.server} ({type(exc).__name__})") from None

    def my_agreements(self, *, deal: str) -> list[Any]:
        from dealvault.access.acceptance import MyAgreementOut

        rows = self._get(f"/api/deals/{_seg(deal)}/agreements/mine")
        return [MyAgreementOut.model_validate(r) for r in rows]

    def accept_agreement(self, agreement_id: int, *, document_sha256: str) -> Any:
        from dealvault.access.acceptance import AcceptanceOut

        body = {"document_sha256": document_sha256}
        got = self._post(f"/api/agreements/{int(agreement_id)}/accept", body)
        return AcceptanceOut.model_validate(got)

    def agreement_document(self, agreement_id: int, *, out: Path) -> tuple[int, str]:
        """The document of a click-through agreement, saved 0600 at ``out``: its size and
        the SHA-256 the server sent (checked against the bytes received)."""
        import hashlib

        try:
            r = self.http.get(f"/api/agreements/{int(agreement_id)}/document")
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach {self.login.server} ({type(exc).__name__})") from None
        _raise(r)
        digest = hashlib.sha256(r.content).hexdigest()
        if r.headers.get("x-document-sha256", "").lower() != digest:
            raise IntegrityError("the document received does not match its SHA-256: try again")
        write_private(out, r.content)
        return len(r.content), digest

    def logout(self) -> None:
        if self.login.kind == "session":
            # the local file goes anyway; an unreachable server's session times out there
            with contextlib.suppress(httpx.HTTPError):
                self.http.post("/api/auth/logout")


#: the files an audit bundle may hold (anything else in a downloaded zip is refused)
_BUNDLE_NAME = re.compile(r"(checkpoints/)?[A-Za-z0-9][A-Za-z0-9._-]{0,100}")


def unpack_bundle(data: bytes, *, out_dir: Path) -> None:
    """A zipped audit bundle into ``out_dir`` (new or empty): plain names only, each file
    0600, nothing written outside the directory."""
    import io
    import zipfile

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Invalid("the server's bundle is not a zip file") from None
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if any(_BUNDLE_NAME.fullmatch(n) is None or ".." in n for n in names):
            raise Invalid("the server's bundle holds an unexpected file name")
        ensure_private_dir(out_dir, what=None)
        ensure_private_dir(out_dir / "checkpoints", what=None)
        for name in names:
            write_private(out_dir / name, zf.read(name))


def _seg(value: str) -> str:
    """A path segment, escaped."""
    from urllib.parse import quote

    return quote(value, safe="")


def sign_in(
    *,
    server: str,
    email: str,
    password: str,
    code: str,
    ca_file: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Login:
    """Password, then TOTP (or a recovery) code: a signed-in session."""
    http = httpx.Client(
        base_url=server.rstrip("/"),
        headers={dev.HEADER: device_value()},
        verify=ca_file or True,
        timeout=60,
        transport=transport,
    )
    try:
        r = http.post("/api/auth/login", json={"email": email, "password": password})
        _raise(r)
        first = r.json()
        if first.get("next") == "enrol":
            raise Invalid("this account has no second factor yet: finish the invitation first")
        secret = r.cookies.get(COOKIE) or _cookie(r)
        r = http.post(
            "/api/auth/second-factor",
            json={"code": code},
            headers={"Cookie": f"{COOKIE}={secret}", "X-CSRF-Token": first["csrf"]},
        )
        _raise(r)
        done = r.json()
        secret = r.cookies.get(COOKIE) or _cookie(r)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach {server} ({type(exc).__name__})") from None
    finally:
        http.close()
    return Login(
        server=server, email=done["email"], kind="session", secret=secret, csrf=done["csrf"],
        ca_file=ca_file,
    )  # fmt: skip


def _cookie(r: httpx.Response) -> str:
    """The session secret from Set-Cookie (httpx keeps Secure cookies from an http:// server
    out of its jar)."""
    for header in r.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0]
    raise Unauthenticated("the server did not start a session")


def with_token(
    *,
    server: str,
    token: str,
    ca_file: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Login:
    """A stored API token, checked against the server once."""
    login = Login(server=server, email="", kind="token", secret=token.strip(), ca_file=ca_file)
    Remote(login, transport=transport).list_deals()
    return login
