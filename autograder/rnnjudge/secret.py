"""The course secret: every input the judge generates derives from it.

Sizes, seeds, the judge's weights, token batches and hypothesis's examples all come from
``seed(label, ...)``, an HMAC of the check's label under a secret that the instructor holds
(``rnnlab release`` creates ``autograder/course.secret``; the otter zip carries it in its plugin
configuration). The same secret and the same submission give the same grade, byte for byte; a
new secret gives new inputs, so answers recorded with the public kit, or under another secret,
match nothing. The student release never contains it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets as _random
from pathlib import Path

import numpy as np

ENV = "RNNJUDGE_SECRET"  # the secret itself, as 64 hex digits, for the judge's command line
KEY_HEX_DIGITS = 64

_current: bytes | None = None


class NoSecret(Exception):
    """No course secret, or one that is not 64 hex digits; the message says what to do."""


def new_key() -> str:
    return _random.token_hex(KEY_HEX_DIGITS // 2)


def parse(text: str, where: str) -> bytes:
    key = text.strip()
    if len(key) != KEY_HEX_DIGITS or any(c not in "0123456789abcdefABCDEF" for c in key):
        raise NoSecret(f"{where} should hold the course secret as {KEY_HEX_DIGITS} hex digits; recreate it with "
                       "`rnnlab release --new-secret` (grades made with the old one are then not reproducible)")
    return bytes.fromhex(key)


def read_file(path: Path) -> bytes:
    try:
        return parse(Path(path).read_text(), str(path))
    except OSError as err:
        raise NoSecret(f"cannot read the course secret {path} ({err.strerror}): `rnnlab release` creates it") from None


def find(path: Path | None, default: Path | None = None) -> bytes:
    """The secret from ``path``, else ``$RNNJUDGE_SECRET``, else ``default`` if that file exists."""
    if path is not None:
        return read_file(path)
    if os.environ.get(ENV):
        return parse(os.environ[ENV], f"${ENV}")
    if default is not None and default.is_file():
        return read_file(default)
    raise NoSecret(f"no course secret: the hidden inputs derive from it. `rnnlab release` writes one to "
                   f"{default or 'autograder/course.secret'} (keep it, never commit it); or set ${ENV} to "
                   f"{KEY_HEX_DIGITS} hex digits, or pass --secret FILE")


def fingerprint(key: bytes) -> str:
    """A short public name for a secret (statuses and logs say which one graded), not the secret."""
    return hashlib.sha256(b"rnnjudge fingerprint\0" + key).hexdigest()[:10]


def for_code(key: bytes, code: str) -> bytes:
    """The key a submission's hidden inputs derive from: the course secret and the submission's own
    code. Answers learned from one submission's feedback (its "expected ..." values) or recorded
    from another's run belong to other inputs in any other file: a lookup table added to the code
    changes the questions it would answer."""
    return hmac.new(key, b"rnnjudge submission\0" + code.encode("utf-8", errors="replace"), hashlib.sha256).digest()


@contextlib.contextmanager
def using(key: bytes):
    """Checks run inside this derive their inputs from ``key``."""
    global _current
    previous, _current = _current, key
    try:
        yield
    finally:
        _current = previous


def seed(*labels) -> int:
    """A 63-bit seed for ``labels`` (a check's name, a case number, ...) under the current secret."""
    if _current is None:
        raise NoSecret("the judge ran a check outside secret.using(key)")
    message = "\0".join(map(str, labels)).encode()
    return int.from_bytes(hmac.new(_current, message, hashlib.sha256).digest()[:8], "big") >> 1


def rng(*labels) -> np.random.Generator:
    return np.random.default_rng(seed(*labels))


def integer(low: int, high: int, *labels) -> int:
    """An integer in [low, high], drawn for ``labels``."""
    return int(rng("integer", low, high, *labels).integers(low, high + 1))
