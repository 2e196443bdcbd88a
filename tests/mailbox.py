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

    def code(self, address: str) -> str:
        """The 8-digit code of the latest mail to ``address``."""
        return re.search(r"\b(\d{8})\b", self.text(self.to(address)[-1])).group(1)

    def token(self, address: str) -> str:
        return re.search(r"token=([A-Za-z0-9_\-]{20,})", self.text(self.to(address)[-1])).group(1)


@contextmanager
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()
