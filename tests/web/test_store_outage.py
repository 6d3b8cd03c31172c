"""PostgreSQL going away under load: requests in flight answer 503 with a reason, nothing
acknowledged is lost, and the same server process serves again once the store is back.

The restart is played by a TCP proxy on loopback between ``cpxm serve`` and the test's
PostgreSQL: it drops every connection and refuses new ones for a few seconds, which is what a
restarting server looks like from the app, without restarting the server other tests share.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from tests.conftest import url_of
from tests.factories import make_stakeholder, make_taxonomy
from tests.served import served


class OutageProxy:
    """Forwards loopback connections to ``upstream``; ``outage(seconds)`` plays a restart."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.refusing = threading.Event()
        self.stopped = threading.Event()
        self.open_sockets: set[socket.socket] = set()
        self.guard = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.guard:
                self.open_sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._close(end)

    def _close(self, end: socket.socket) -> None:
        with self.guard:
            self.open_sockets.discard(end)
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()

    def outage(self, seconds: float) -> None:
        self.refusing.set()
        with self.guard:
            dropped = list(self.open_sockets)
        for end in dropped:
            self._close(end)
        time.sleep(seconds)
        self.refusing.clear()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        with self.guard:
            remaining = list(self.open_sockets)
        for end in remaining:
            self._close(end)


def test_a_restart_answers_503_loses_nothing_and_recovers(
    store_engine: Engine, tmp_path: Path
) -> None:
    if store_engine.dialect.name != "postgresql":
        pytest.skip("a server restart is PostgreSQL's; SQLite is a file in the same process")
    with Session(store_engine) as session:
        make_taxonomy(session)
        person = make_stakeholder(session, type="hcp", country_code="DE")
        session.commit()
        stakeholder_id = person.id
    url = make_url(url_of(store_engine))
    proxy = OutageProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    statuses: Counter[int] = Counter()
    acknowledged: list[int] = []
    guard = threading.Lock()
    stop = threading.Event()
    try:
        with served(proxied, tmp_path) as server, server.client("admin") as api:

            def post_until_stopped() -> None:
                with httpx.Client(base_url=server.url, headers=api.headers, timeout=60) as own:
                    index = 0
                    while not stop.is_set():
                        index += 1
                        answer = own.post(
                            "/api/v1/feedback",
                            json={
                                "source_kind": "web_form",
                                "text": f"Outage note {index}",
                                "stakeholder_id": stakeholder_id,
                            },
                        )
                        with guard:
                            statuses[answer.status_code] += 1
                            if answer.status_code == 201:
                                acknowledged.append(int(answer.json()["id"]))
                            elif answer.status_code == 503:
                                assert answer.headers.get("retry-after") == "1"
                                assert "try again" in answer.json()["detail"]

            writers = [threading.Thread(target=post_until_stopped) for _ in range(3)]
            for writer in writers:
                writer.start()
            time.sleep(3)
            before_outage = len(acknowledged)
            proxy.outage(4)
            time.sleep(4)  # the same server process, no restart: it must serve again
            stop.set()
            for writer in writers:
                writer.join(timeout=60)
            after = api.get("/api/v1/feedback", params={"limit": 1})
            assert after.status_code == 200, after.text
            log = server.log_text()
    finally:
        proxy.close()
    assert statuses[500] == 0, (statuses, log[-3000:])
    assert statuses[503] > 0, statuses  # the outage was seen by requests in flight
    assert len(acknowledged) > before_outage + 3, statuses  # and writes resumed afterwards
    # No request failed unhandled (uvicorn logs those as "Exception in ASGI application").
    assert "Exception in ASGI application" not in log, log[-3000:]
    with Session(store_engine) as session:
        stored = set(session.scalars(select(FeedbackItem.id)))
    assert set(acknowledged) <= stored
