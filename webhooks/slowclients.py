"""A gunicorn worker whose threads never wait on a slow client (``lsqa serve`` runs it).

gunicorn's threaded worker hands a connection to a thread as soon as its first byte arrives; the
thread then blocks reading the rest of the request, for as long as the client takes. Label Studio
waits 1 s for an acknowledgement and never retries, so a few dozen clients trickling headers or
bodies (2 processes x 8 threads) would make real events time out.

:class:`BufferingThreadWorker` does what a buffering reverse proxy does, in the worker's event
loop: it reads a new request without a thread, until its headers and (up to ``PREFETCH_LIMIT``
bytes) its body are in, and only then gives it to a thread, with the bytes already read. A client
that has not sent its whole request within ``server.read_timeout`` seconds gets 408 and is
disconnected; one whose body is larger than the prefetch has the rest of that time to send it
(its socket is shut for reading at the deadline, which ends any read blocked on it).

TLS is left to the reverse proxy (docs/deployment.md); with gunicorn's own TLS this worker behaves
like gunicorn's.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from plugin.settings import load_settings

PREFETCH_LIMIT = 256 * 1024
RECV_SIZE = 64 * 1024
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"^transfer-encoding:.*chunked", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect:[ \t]*100-continue", re.IGNORECASE | re.MULTILINE)


def request_complete(buffered: bytes) -> bool:
    """Whether ``buffered`` holds a whole request, as far as a thread needs to know.

    Only a prefetch: gunicorn's own parser reads the request, so a wrong guess costs a thread some
    waiting (bounded by the deadline), never a wrong parse.
    """
    head_end = buffered.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    head = buffered[:head_end]
    if _EXPECT_CONTINUE.search(head):  # the client waits for our "100 Continue" before its body
        return True
    if _CHUNKED.search(head):
        return buffered.endswith(b"0\r\n\r\n")
    length = _CONTENT_LENGTH.search(head)
    return length is None or len(buffered) - head_end - 4 >= int(length.group(1))


class BufferingThreadWorker(ThreadWorker):
    """gthread, with every request read by the event loop before a thread takes it."""

    def init_process(self) -> None:
        settings = load_settings(os.environ.get("LSQA_CONFIG") or None)
        self.read_timeout = float(settings["server.read_timeout"])
        self.reading: dict[TConn, float] = {}  # connections the loop is reading -> their deadline
        self.in_threads: dict[TConn, float] = {}  # connections a thread is serving -> read deadline
        super().init_process()

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            if isinstance(exc, ConnectionAbortedError):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self.cfg.is_ssl:  # bytes of a TLS stream cannot be prefetched here
            conn.sock.setblocking(True)
            self.enqueue_req(conn)
            return
        self._start_reading(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection starts its next request: read it in the loop too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self.cfg.is_ssl:
            self.enqueue_req(conn)
            return
        self._start_reading(conn)
        self._read_some(conn, client)

    def _start_reading(self, conn: TConn) -> None:
        conn.sock.setblocking(False)
        conn.prefetched = bytearray()
        conn.read_deadline = time.monotonic() + self.read_timeout
        self.reading[conn] = conn.read_deadline
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_some, conn))

    def _read_some(self, conn: TConn, client: Any) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._stop_reading(conn)
            self._drop(conn)
            return
        conn.prefetched += data
        if len(conn.prefetched) >= PREFETCH_LIMIT or request_complete(bytes(conn.prefetched)):
            self._stop_reading(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _stop_reading(self, conn: TConn) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _drop(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    def enqueue_req(self, conn: TConn) -> None:
        # Whole requests count from their first byte; others from now.
        deadline = getattr(conn, "read_deadline", None) or time.monotonic() + self.read_timeout
        conn.read_deadline = None
        self.in_threads[conn] = deadline
        super().enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """Give the parser what the loop already read, then serve as gunicorn does."""
        prefetched = getattr(conn, "prefetched", None)
        if prefetched:
            conn.prefetched = bytearray()
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(prefetched))
        return super().handle(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        self.in_threads.pop(conn, None)
        super().finish_request(conn, fs)

    def murder_pending(self) -> None:
        """Every loop turn: 408 for requests still unread at their deadline, and no more reading
        for threads whose client is still sending past it."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, deadline in self.reading.items() if deadline <= now]:
            self._stop_reading(conn)
            with contextlib.suppress(OSError):
                conn.sock.send(TIMED_OUT)
            self._drop(conn)
        for conn in [c for c, deadline in self.in_threads.items() if deadline <= now]:
            del self.in_threads[conn]  # once: the thread may still be writing its answer
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RD)
