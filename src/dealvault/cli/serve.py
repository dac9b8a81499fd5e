"""``dealvault serve``: the server every party signs in to (FastAPI under uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.errors import Conflict, InputError, Invalid, KeyUnavailable
from dealvault.files import read_secret_text, read_text_file


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)


def _read_fd(fd: int) -> str:
    try:
        with os.fdopen(fd, "r", encoding="utf-8", closefd=True) as fh:
            text = fh.readline().rstrip("\r\n")
    except OSError as exc:
        raise KeyUnavailable(
            f"cannot read the passphrase from file descriptor {fd}: {exc.strerror}"
        ) from None
    if not text:
        raise KeyUnavailable(f"file descriptor {fd} gave an empty passphrase")
    return text


def check_tls(cert: Path, key: Path) -> None:
    """Refuse a certificate that is not PEM and a private key that is missing, open to other
    users or not PEM, before anything starts (naming the file)."""
    if "-----BEGIN CERTIFICATE-----" not in read_text_file(cert, encoding="ascii"):
        raise InputError("not a PEM certificate", file=cert.name)
    if "PRIVATE KEY-----" not in read_secret_text(key, what="TLS key", encoding="ascii"):
        raise KeyUnavailable(f"TLS key {key} is not a PEM private key")


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8443,
    tls_cert: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM); with --tls-key.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    passphrase_fd: Annotated[
        int | None,
        typer.Option(help="Read the master-key passphrase from this file descriptor."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (PostgreSQL stores only; the SQLite store takes one).",
        ),
    ] = 1,
    insecure_http: Annotated[
        bool,
        typer.Option(
            help="Serve plain HTTP (only behind a TLS-terminating proxy on the same host, or "
            "for a local trial): session cookies are Secure and need HTTPS in the browser."
        ),
    ] = False,
) -> None:
    """Run the server: unlock the master key once (prompt, --passphrase-fd or the key
    provider), keep it in memory only, and serve the API. Refuses to start when the key
    does not open this store."""
    from pydantic import SecretStr

    from dealvault.api import workers as procs
    from dealvault.api.app import create_app

    c = get(ctx)
    if (tls_cert is None) != (tls_key is None):
        raise Invalid("give both --tls-cert and --tls-key, or neither")
    if tls_cert is None and not insecure_http:
        raise Invalid("give --tls-cert and --tls-key (or --insecure-http behind a TLS proxy)")
    if tls_cert is not None and tls_key is not None:
        check_tls(tls_cert, tls_key)
    if workers > 1 and c.settings.resolved_database_url.startswith("sqlite"):
        raise Invalid("the SQLite store serves from one process: use --workers 1 or PostgreSQL")
    if passphrase_fd is not None:
        c.settings = c.settings.model_copy(
            update={"passphrase": SecretStr(_read_fd(passphrase_fd))}
        )
    stores = c.stores()
    keyring = c.keyring()
    with stores.keystore_sessions() as ks:
        keyring.verify_kek(ks)  # the wrong key stops the start, not the first request
    app = create_app(c.settings, keyring=keyring, stores=stores, monitor_actor=c.actor())
    try:  # before the workers: a port in use fails here, once
        socks = procs.listen(host, port, count=workers)
    except OSError as exc:
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    c.err.print(
        f"dealvault {'https' if tls_cert else 'http'}://{host}:{port}  (store {c.settings.home}; "
        f"{workers} worker{'s' if workers > 1 else ''}; Ctrl-C stops)",
        soft_wrap=True,
    )

    def after_fork() -> None:  # connections of the parent's pools are not the worker's
        stores.records_engine.dispose(close=False)
        stores.keystore_engine.dispose(close=False)

    procs.run(
        app,
        socks=socks,
        workers=workers,
        after_fork=after_fork,
        options={
            "ssl_certfile": str(tls_cert) if tls_cert else None,
            "ssl_keyfile": str(tls_key) if tls_key else None,
            "proxy_headers": False,  # forwarded headers are believed only from trusted_proxies
            "server_header": False,
            "log_level": "info",
        },
    )
