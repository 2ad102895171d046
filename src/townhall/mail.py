"""Outgoing email through a real SMTP relay (aiosmtplib)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from townhall.config import Settings

logger = logging.getLogger(__name__)


MAIL_TOPIC = "mail"
"""The outbox topic of mails sent after a change (``Mailer.deliver``)."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class MailNotSent(Exception):
    """The relay did not take a mail from the outbox; it is tried again later."""


class Mailer:
    """Sends mail; never raises to the caller, because a failed delivery must not leak
    whether an address exists. Failures are logged without the subject or the body: both
    can hold a secret (a sign-in code, an invite link)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, mail: Mail) -> bool:
        s = self._settings
        if not s.smtp_host:
            if s.development:
                # With no relay, the log is how a developer reads their mail (S1).
                logger.warning(
                    "no SMTP relay configured; mail to %s not sent:\n%s\n\n%s",
                    mail.to,
                    mail.subject,
                    mail.body,
                )
            else:
                logger.warning("no SMTP relay configured; mail to %s not sent", mail.to)
            return False
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_security == "tls",
                start_tls=True if s.smtp_security == "starttls" else False,
                timeout=s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            logger.error("mail to %s failed: %s", mail.to, type(exc).__name__)
            return False
        return True

    async def deliver(self, body: dict[str, Any]) -> None:
        """The outbox handler of ``MAIL_TOPIC``: send, or raise so that the row is tried
        again. Without a relay the mail is dropped (and logged): no attempt would succeed."""
        if not await self.send(Mail(**body)) and self._settings.smtp_host:
            raise MailNotSent("the relay did not take the mail")
