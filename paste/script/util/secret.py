# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Random secrets for generated configuration files (cookie keys and such)."""
import base64
import secrets

__all__ = ["random_bytes", "secret_string"]


def random_bytes(length: int) -> bytes:
    """``length`` bytes from the operating system's secure random source."""
    return secrets.token_bytes(length)


def secret_string(length: int = 25) -> str:
    """A random string of ``length`` URL- and INI-safe characters (letters, digits, - and _)."""
    text = ""
    while len(text) < length:
        text += base64.urlsafe_b64encode(random_bytes(length)).decode("ascii").rstrip("=")
    return text[:length]
