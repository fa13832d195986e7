"""The wire format between the judge and the worker: data only, size-bounded.

A message is a 4-byte big-endian length, a UTF-8 JSON header of that length, then the raw
bytes of the arrays the header declares, in order::

    {"op": "forward", ..., "arrays": [["x", "int64", [2, 5]], ["h0", "float32", [2, 6]]]}

Arrays travel as C-ordered little-endian bytes of an allowed dtype, rebuilt with
``numpy.frombuffer``: nothing is ever unpickled, and no object made by the other side is used
for a comparison. The reader enforces the size bounds, so a malformed or oversized message
costs the reader a ``ProtocolError``, never memory or a crash.

This module is imported by the worker inside the sandbox, so it imports nothing of the judge.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import os
import select
import struct
import time

import numpy as np

MAX_HEADER_BYTES = 1 << 20
MAX_ARRAY_BYTES = 64 << 20  # all arrays of one message together
DTYPES = {"float32": "<f4", "float64": "<f8", "int64": "<i8", "bool": "|b1"}


class ProtocolError(Exception):
    """A message that is late, truncated, oversized or not of this format."""


def encode(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One message: ``header`` (JSON-able) plus named arrays."""
    arrays = arrays or {}
    specs, blobs = [], []
    for name, value in arrays.items():
        value = np.asarray(value)
        dtype = value.dtype.name
        if dtype not in DTYPES:
            raise TypeError(f"array {name!r} has dtype {dtype}; allowed: {', '.join(DTYPES)}")
        specs.append([name, dtype, list(value.shape)])
        blobs.append(np.ascontiguousarray(value, dtype=DTYPES[dtype]).tobytes())
    head = json.dumps({**header, "arrays": specs}, allow_nan=True).encode()
    return struct.pack(">I", len(head)) + head + b"".join(blobs)


def write_message(fd: int, header: dict, arrays: dict[str, np.ndarray] | None = None,
                  timeout: float | None = None) -> None:
    """Write one message; with a ``timeout`` the write never blocks past it (a reader that stops
    reading costs the writer a ``ProtocolError``, not its whole run)."""
    data = memoryview(encode(header, arrays))
    if timeout is None:
        while data:
            data = data[os.write(fd, data):]
        return
    deadline = time.monotonic() + timeout
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        while data:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([], [fd], [], wait)[1]:
                raise ProtocolError("the other side stopped reading (no room to write in time)")
            try:
                data = data[os.write(fd, data[:1 << 16]):]
            except BlockingIOError:
                continue
            except OSError as err:
                if err.errno == errno.EPIPE:
                    raise ProtocolError("the other side closed the channel") from None
                raise
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise ProtocolError("no reply in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _array_spec(spec) -> tuple[str, str, tuple[int, ...], int]:
    """Validate one declared array: (name, dtype, shape, byte size)."""
    if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and spec[1] in DTYPES
            and isinstance(spec[2], list) and all(type(d) is int and 0 <= d < 2**31 for d in spec[2])):
        raise ProtocolError(f"malformed array declaration {str(spec)[:200]}")
    size = np.dtype(DTYPES[spec[1]]).itemsize
    for dim in spec[2]:  # exact integers: a declared shape never overflows into a small size
        size *= dim
    return spec[0], spec[1], tuple(spec[2]), size


def read_message(fd: int, timeout: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The next message as (header, arrays); raises ``ProtocolError`` on anything else, whatever
    went wrong while reading or parsing it (deep nesting, absurd shapes, bad numbers)."""
    try:
        return _read_message(fd, timeout)
    except ProtocolError:
        raise
    except Exception as err:  # noqa: BLE001 - RecursionError, OverflowError, MemoryError, ...: all malformed
        raise ProtocolError(f"malformed message ({type(err).__name__})") from None


def _read_message(fd: int, timeout: float | None) -> tuple[dict, dict[str, np.ndarray]]:
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {length} bytes (limit {MAX_HEADER_BYTES})")
    try:
        header = json.loads(_read_exact(fd, length, deadline))
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"header is not JSON ({err})") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays", []), list):
        raise ProtocolError("header is not a JSON object with an array list")
    specs = [_array_spec(s) for s in header.pop("arrays", [])]
    if sum(size for *_, size in specs) > MAX_ARRAY_BYTES:
        raise ProtocolError(f"arrays of more than {MAX_ARRAY_BYTES} bytes")
    arrays = {}
    for name, dtype, shape, size in specs:
        buffer = _read_exact(fd, size, deadline)
        arrays[name] = np.frombuffer(buffer, dtype=DTYPES[dtype]).reshape(shape).astype(dtype)
    return header, arrays


# ----------------------------------------------------------------------------
# Sealed values: a number the worker can open only with the logits the model really produced
# ----------------------------------------------------------------------------

KEY_MARGIN = 1e-2  # logits this close to their row's mean stay out of the key (float32 never flips them)


def logit_key(logits: np.ndarray, usable: np.ndarray, salt: bytes) -> bytes:
    """A key made of which side of its row's mean each usable logit lies on: the judge's float64
    logits and a model's float32 ones give the same key; other logits (another batch, zeros, a
    guess) give another, with 2**(usable entries) possibilities."""
    centred = logits - logits.mean(axis=-1, keepdims=True)
    return hashlib.sha256(salt + np.packbits(centred[usable] > 0).tobytes()).digest()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key + b"id").hexdigest()


def seal(value: float, key: bytes, label: str) -> str:
    pad = hashlib.sha256(key + label.encode()).digest()[:8]
    return bytes(a ^ b for a, b in zip(struct.pack("<d", value), pad)).hex()


def unseal(sealed: str, key: bytes, label: str) -> float:
    pad = hashlib.sha256(key + label.encode()).digest()[:8]
    return struct.unpack("<d", bytes(a ^ b for a, b in zip(bytes.fromhex(sealed), pad)))[0]


def opens(key: bytes, sealed_id: str) -> bool:
    return hmac.compare_digest(key_id(key), sealed_id)
