# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Standard output and error around ``fork`` and ``_exit``."""
from __future__ import annotations

import sys

__all__ = ["flush_std_streams"]


def flush_std_streams() -> None:
    """Flush stdout and stderr, ignoring streams that are closed, replaced or gone.

    Before ``fork`` (else the child writes the parent's pending output again)
    and before ``os._exit`` (which flushes nothing).
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
