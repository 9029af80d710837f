# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Telling a PasteDeploy spec (``config:app.ini``, ``egg:Dist#name``) from a path.

``paster serve``, its ``--server``/``--server-name`` options and ``paster
request`` take either a file name or a spec with a scheme. One rule for all
of them, here.
"""
from __future__ import annotations

import re

__all__ = ["has_scheme"]

# RFC 3986, section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
# so a one-letter scheme is valid; a drive letter followed by a separator
# (``C:\app.ini``, ``c:/app.ini``) is a Windows path, though.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


def has_scheme(spec: str) -> bool:
    """True when ``spec`` starts with a URI scheme (``config:``, ``egg:``...).

    The scheme follows RFC 3986; a Windows drive letter (``C:\\``, ``C:/``)
    is not one, so such a path is a file name.
    """
    return bool(_SCHEME.match(spec)) and not _DRIVE.match(spec)
