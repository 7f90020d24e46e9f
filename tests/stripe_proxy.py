"""A proxy on 127.0.0.1 that the tests put between kassa and the local Stripe server, to make
Stripe misbehave for chosen requests only: slow, silent, cut off, failing, or acting and then
never answering.

It runs in a thread of its own, so it keeps answering while a test blocks (waiting for a
process, say). Requests no fault matches are passed through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

import httpx

# Headers that describe one hop or the encoding of a body the proxy re-frames itself.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "accept-encoding",
        "host",
        "upgrade",
        "te",
        "trailer",
    }
)


class Mode(StrEnum):
    LATENCY = "latency"  # forwarded after `seconds`
    HANG = "hang"  # never answered (until released)
    RESET = "reset"  # the connection is cut (TCP reset) without an answer
    ERROR = "error"  # answered with `status` by the proxy; Stripe never sees it
    DROP_ANSWER = "drop_answer"  # forwarded, so Stripe acts; then cut before the answer


@dataclass(frozen=True)
class Fault:
    """What happens to requests whose path starts with `path` (and method, when given)."""

    path: str
    mode: Mode
    method: str | None = None
    seconds: float = 0.0
    status: int = 502
    # The path must also end so (`/confirm` of any intent), or be `path` exactly.
    suffix: str = ""
    exact: bool = False

    def matches(self, method: str, path: str) -> bool:
        shaped = path == self.path if self.exact else path.startswith(self.path)
        return shaped and path.endswith(self.suffix) and self.method in (None, method)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    fault: Mode | None


class StripeProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        self._held = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def held(self) -> int:
        """Requests the proxy is holding right now (LATENCY, HANG)."""
        with self._lock:
            return self._held

    def add(self, fault: Fault) -> None:
        """Apply `fault` to requests from now on; the first fault that matches wins."""
        with self._lock:
            self._faults.append(fault)

    def release(self) -> None:
        """Stripe is well again: faults are gone and held requests are forwarded now."""
        with self._lock:
            self._faults.clear()
        if self._loop is not None and self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    def start(self) -> StripeProxy:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)), name="stripe-proxy", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the Stripe proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._released = asyncio.Event()
        self._stopping = asyncio.Event()
        async with httpx.AsyncClient(base_url=self.upstream, timeout=60) as upstream:
            server = await asyncio.start_server(
                lambda reader, writer: self._handle(reader, writer, upstream), "127.0.0.1", 0
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stopping.wait()
            server.close()
            self._released.set()
            for writer in list(self._writers):
                writer.transport.abort()
            await server.wait_closed()

    async def _handle(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: httpx.AsyncClient,
    ) -> None:
        self._writers.add(writer)
        try:
            await self._answer(reader, writer, upstream)
        except (OSError, asyncio.IncompleteReadError, httpx.HTTPError):
            pass  # the client went away, or the proxy is stopping
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: httpx.AsyncClient,
    ) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.rstrip("\r\n").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = [tuple(line.split(":", 1)) for line in header_lines if ":" in line]
        length = next((int(v) for k, v in headers if k.strip().lower() == "content-length"), 0)
        body = await reader.readexactly(length) if length else b""
        fault = self._fault_for(method, target.split("?", 1)[0])
        with self._lock:
            self.requests.append(Request(method, target, fault.mode if fault else None))
        if fault is not None and fault.mode in (Mode.LATENCY, Mode.HANG):
            await self._hold(None if fault.mode is Mode.HANG else fault.seconds)
        elif fault is not None and fault.mode is Mode.RESET:
            _reset(writer)
            return
        elif fault is not None and fault.mode is Mode.ERROR:
            payload = b'{"error": {"type": "api_error", "message": "injected by the test proxy"}}'
            _write(writer, fault.status, [("Content-Type", "application/json")], payload)
            await writer.drain()
            return
        forwarded = [
            (k.strip(), v.strip()) for k, v in headers if k.strip().lower() not in _HOP_HEADERS
        ]
        answer = await upstream.request(method, target, headers=forwarded, content=body)
        if fault is not None and fault.mode is Mode.DROP_ANSWER:
            _reset(writer)
            return
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS]
        _write(writer, answer.status_code, kept, answer.content)
        await writer.drain()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            return next((fault for fault in self._faults if fault.matches(method, path)), None)

    async def _hold(self, seconds: float | None) -> None:
        assert self._released is not None
        with self._lock:
            self._held += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), timeout=seconds)
        finally:
            with self._lock:
                self._held -= 1


def _write(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", *(f"{k}: {v}" for k, v in headers)]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1") + body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as a crashed server or a dropped connection does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
