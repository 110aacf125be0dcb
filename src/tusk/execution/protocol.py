"""Framing between the harness and a warm worker: 4-byte big-endian length, then one JSON object.

Guarantees: ``recv`` returns None on a clean end of stream and raises :class:`EOFError` on a torn frame,
:class:`TimeoutError` when the deadline passes; it waits with ``poll`` (any descriptor number, not only
those below 1024).  A request always fits the worker's frame: programs are capped at ``MAX_PROGRAM``
bytes of UTF-8, and JSON escapes one byte into at most 6 characters.  Does not: authenticate (both ends are ours; the programs
never hold these descriptors).
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct("!I")
MAX_FRAME = 64 << 20
MAX_PROGRAM = 8 << 20  # bytes of UTF-8; a request (escaped: at most 6x) stays below MAX_FRAME
ERROR_CHARS = 2000  # the ``error`` field of an answer is cut to this many characters


def frame_limit(max_output: int) -> int:
    """The largest answer a worker may send for programs with this output cap.

    JSON escapes one output byte into at most 6 characters (``\\ufffd`` for an invalid byte).
    """
    return max(MAX_FRAME, 6 * max_output + 6 * ERROR_CHARS + (1 << 16))


def send(fd: int, message: dict[str, Any]) -> None:
    payload = json.dumps(message, ensure_ascii=True).encode("ascii")
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks = bytearray()
    poller = select.poll()  # not select(): it cannot watch descriptors >= 1024
    poller.register(fd, select.POLLIN)
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from the sandbox worker before the deadline")
            if not poller.poll(max(1, int(remaining * 1000) + 1)):
                continue
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            if not chunks:
                return None
            raise EOFError("sandbox worker closed the stream inside a message")
        chunks += chunk
    return bytes(chunks)


def recv(fd: int, deadline: float | None = None, max_frame: int = MAX_FRAME) -> dict[str, Any] | None:
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > max_frame:
        raise EOFError(f"sandbox frame of {size} bytes exceeds {max_frame}")
    payload = _read_exact(fd, size, deadline)
    if payload is None:
        raise EOFError("sandbox worker closed the stream inside a message")
    return json.loads(payload)
