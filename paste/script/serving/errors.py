# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The serving engine's own error: a message for the user, and an exit status.

The engine knows nothing of the command line; ``paster serve``
(:mod:`paste.script.serve`) turns a :class:`ServeError` into the command's
``BadCommand``, which the dispatcher prints as one line.
"""
from __future__ import annotations

__all__ = ["ServeError", "user_message", "address_in_use"]


class ServeError(Exception):
    """Serving cannot go on: ``message`` says why in one line; exit with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def user_message(exc: BaseException) -> tuple[str, int] | None:
    """``(message, exit_code)`` of an error written for the user, else None.

    That is a :class:`ServeError`, or the command layer's ``BadCommand``
    (which a plugin's code may raise while the application loads).
    """
    if isinstance(exc, ServeError):
        return exc.message, exc.exit_code
    from paste.script.command import BadCommand
    if isinstance(exc, BadCommand):
        return exc.message, exc.exit_code
    return None


def address_in_use(exc: BaseException | None) -> bool:
    """Whether an error (or one it came from) says the address is taken."""
    import errno
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return True
        if "already in use" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
