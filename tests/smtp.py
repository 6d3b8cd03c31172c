"""A real SMTP server on loopback that keeps what it receives (aiosmtpd), for mail tests.

It can behave as real servers do when things go wrong: refuse some addresses (550 at RCPT),
take its time over each message (a slow relay), or take only so many messages on a connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """What the server received, parsed."""

    def __init__(
        self,
        refuse: Iterable[str] = (),
        seconds_per_message: float = 0.0,
        messages_per_connection: int | None = None,
    ) -> None:
        self.messages: list[Message] = []
        self.refuse = {address.lower() for address in refuse}
        self.seconds_per_message = seconds_per_message
        self.messages_per_connection = messages_per_connection
        self._taken: dict[int, int] = {}

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        taken = self._taken.get(id(session), 0)
        if self.messages_per_connection is not None and taken >= self.messages_per_connection:
            return "421 4.7.0 too many messages on one connection, closing"
        self._taken[id(session)] = taken + 1
        if self.seconds_per_message:
            await asyncio.sleep(self.seconds_per_message)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    """A loopback port nothing listens on (a moment ago): a server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(inbox: Inbox | None = None) -> Iterator[tuple[Inbox, int]]:
    """A running server on a free loopback port: its inbox and the port."""
    port = free_port()
    inbox = inbox or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
