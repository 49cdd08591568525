"""The capture file writer: a background thread fed by a bounded buffer.

The application thread only appends a tuple to a deque (no lock, no I/O, no encoding);
the writer thread encodes the lines (:mod:`advisor.capture.encode`) and writes them in
batches, giving the GIL back every few events so that the application never waits long
for it. When the buffer is full the event is dropped and counted, so capture never blocks
the application and never grows memory.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import threading
import time
from typing import IO, Any

from advisor.capture.encode import POOL, Event, LineEncoder, PoolCheckout
from advisor.capture.format import header_line, now_iso
from advisor.errors import CaptureError

__all__ = ["CaptureWriter", "open_output"]

_BATCH = 256
_INTERVAL = 0.1


def open_output(path: str) -> IO[str]:
    """Open ``path`` for writing or raise :class:`CaptureError` with a one-line message."""
    try:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise CaptureError(
                f"{path}: cannot write the capture file (directory {parent} does not exist); "
                "create it or choose another --output"
            )
        return open(path, "w", encoding="utf-8", buffering=1 << 16)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CaptureError(
            f"{path}: cannot write the capture file ({reason}); choose a writable path"
        ) from exc


class CaptureWriter:
    """Writes the header now, query lines from a background thread, the trailer at close."""

    close_timeout = 30.0  # seconds close() waits for the writer thread, then for its write

    def __init__(
        self,
        path: str,
        *,
        keep_params: bool = False,
        max_pending: int = 50_000,
        header: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.keep_params = keep_params
        self.max_pending = max_pending
        # The seq of the last query line written (so also the number of query lines):
        # events are numbered in the order they were queued.
        self.seq = 0
        self.dropped = 0
        self.internal_errors = 0
        self.schema_errors = 0
        self.pending: collections.deque[Event | PoolCheckout | dict[str, Any]] = collections.deque()
        self.encoder = LineEncoder(keep_params)
        self._wake = threading.Event()
        self._stop = False
        self._closed = False
        self._lock = threading.Lock()
        self._io = threading.Lock()  # held while a batch, the trailer or a flush is written
        self._file = open_output(path)
        first = header_line(keep_params) | {"pid": os.getpid()} | (header or {})
        try:
            self._file.write(json.dumps(first) + "\n")
            self._file.flush()
        except OSError as exc:
            raise CaptureError(
                f"{path}: cannot write the capture file ({exc}); choose a writable path"
            ) from exc
        self._thread = threading.Thread(target=self._run, name="advisor-capture", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def submit(self, event: Event | PoolCheckout | dict[str, Any]) -> None:
        """Queue one query event (or another line, as a dict); drop and count it when the
        buffer is full (never blocks). The hot path appends to :attr:`pending` directly."""
        if self._stop or len(self.pending) >= self.max_pending:
            self.dropped += 1
            return
        self.pending.append(event)

    def _drain(self) -> None:
        # Only the events queued by now. Events go on arriving while a batch is written,
        # and chasing them kept this thread awake all the time, asking for the GIL (so
        # the application had to hand it over every switch interval) to write a line or
        # two per batch; they wait for the next wake-up, at most _INTERVAL away.
        left = len(self.pending)
        while left > 0:
            with self._io:
                if self._file.closed:
                    return
                left -= self._write_batch()
            # Give the GIL back: an application thread whose database answer arrived
            # must not wait for a whole backlog to be encoded.
            time.sleep(0)
        with self._io:
            if not self._file.closed:
                self._file.flush()

    def _write_batch(self) -> int:
        """Encode and write up to ``_BATCH`` queued events, and return how many; the caller
        holds ``_io`` (close() may write too, and lines must neither interleave nor share
        a seq)."""
        pending = self.pending
        encode = self.encoder.line
        batch: list[str] = []
        seq = self.seq
        taken = 0
        while pending and taken < _BATCH:
            event = pending.popleft()
            taken += 1
            try:
                if type(event) is tuple:
                    if event[0] is POOL:
                        batch.append(self.encoder.pool_line(event))  # type: ignore[arg-type]
                    else:
                        batch.append(encode(seq + 1, *event))
                        seq += 1
                else:
                    batch.append(json.dumps(event, default=str) + "\n")
            except Exception:
                self.internal_errors += 1
        self._file.write("".join(batch))
        self.seq = seq
        return taken

    def _run(self) -> None:
        while True:
            self._wake.wait(_INTERVAL)
            self._wake.clear()
            try:
                self._drain()
            except Exception:
                self.internal_errors += 1
            if self._stop and not self.pending:
                return

    def abandon(self) -> None:
        """In a forked child: forget this writer without touching the parent's file."""
        with self._lock:
            self._closed = True
        self._stop = True
        self.pending.clear()
        atexit.unregister(self.close)

    def close(self) -> None:
        """Flush everything, write the trailer and close the file (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=self.close_timeout)
        if not self._io.acquire(timeout=self.close_timeout):
            # The writer thread is stuck in a write (a hung disk): leave the file without
            # its trailer, which the reader reports as a truncated capture.
            atexit.unregister(self.close)
            return
        try:
            while self.pending and not self._file.closed:
                self._write_batch()
            trailer = {
                "type": "trailer",
                "events": self.seq,
                "dropped": self.dropped,
                "internal_errors": self.internal_errors,
                "schema_errors": self.schema_errors,
                "ended_at": now_iso(),
            }
            self._file.write(json.dumps(trailer) + "\n")
            self._file.close()
        except (OSError, ValueError):
            pass
        finally:
            self._io.release()
        atexit.unregister(self.close)
