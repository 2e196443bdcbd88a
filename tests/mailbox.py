"""A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""

import email
import email.policy
import re
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from tests.servers import free_port


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"]]

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def html(message) -> str:
        return message.get_body(preferencelist=("html",)).get_content()

    def _latest(self, address: str, pattern: str) -> str | None:
        for message in reversed(self.to(address)):
            found = re.search(pattern, self.text(message))
            if found:
                return found.group(1)
        return None

    def code(self, address: str) -> str | None:
        """The 8-digit code of the latest mail to ``address`` that carries one (notices carry none)."""
        return self._latest(address, r"\b(\d{8})\b")

    def token(self, address: str) -> str | None:
        return self._latest(address, r"token=([A-Za-z0-9_\-]{20,})")


@contextmanager
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()
