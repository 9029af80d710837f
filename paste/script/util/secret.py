# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Random secrets for generated configuration files (cookie keys and such)."""
from __future__ import annotations

import base64
import re
import secrets

__all__ = ["random_bytes", "secret_string", "hide_secrets", "HIDDEN"]

#: What is shown instead of a secret.
HIDDEN = "********"


def random_bytes(length: int) -> bytes:
    """``length`` bytes from the operating system's secure random source."""
    return secrets.token_bytes(length)


def secret_string(length: int = 25) -> str:
    """A random string of ``length`` base64 characters (letters, digits, ``+`` and ``/``).

    As in 3.x: random bytes, base64-encoded, the padding dropped, cut to
    ``length``.
    """
    text = ""
    while len(text) < length:
        text += base64.b64encode(random_bytes(length)).decode("ascii").rstrip("=")
    return text[:length]


def hide_secrets(texts: list[str], values) -> list[str]:
    """``texts`` (e.g. the old and new versions of a config) with no secret in them.

    Each of ``values`` is replaced by :data:`HIDDEN`; and a ``key = value``
    (or ``key: value``) line whose key holds a secret in any of the texts
    shows :data:`HIDDEN` as its value in every text, so the secret an
    older version of the file holds is hidden too.
    """
    values = [value for value in values if value]
    keys = set()
    for text in texts:
        for line in text.splitlines():
            if any(value in line for value in values):
                match = _KEY.match(line)
                if match:
                    keys.add(match.group("key"))
    hidden = []
    for text in texts:
        lines = []
        for line in text.splitlines(True):
            match = _KEY.match(line)
            if match and match.group("key") in keys:
                end = "\n" if line.endswith("\n") else ""
                line = f"{match.group(0)} {HIDDEN}{end}"
            for value in values:
                line = line.replace(value, HIDDEN)
            lines.append(line)
        hidden.append("".join(lines))
    return hidden


_KEY = re.compile(r"\s*(?P<key>[^\s=:#;][^=:]*?)\s*[=:]")
