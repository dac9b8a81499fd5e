"""Account mails (invitations, password resets) through the configured SMTP server."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from dealvault.config import Settings
from dealvault.errors import Unavailable


def send(settings: Settings, *, to: str, subject: str, body: str) -> None:
    """Send one plain-text mail; Unavailable when the server cannot be reached or refuses."""
    msg = EmailMessage()
    msg["From"] = settings.smtp_sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username and settings.smtp_password is not None:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise Unavailable(
            f"the mail server {settings.smtp_host}:{settings.smtp_port} did not take the mail "
            f"({type(exc).__name__})"
        ) from None
