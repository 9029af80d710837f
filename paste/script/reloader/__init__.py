# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster serve --reload``, as it was imported before the serving engine existed.

The machinery lives in :mod:`paste.script.serving`; this module keeps the
names applications and command authors import: :func:`watch_file`,
:func:`watched_files` and :func:`run_reloader`.
"""
from __future__ import annotations

from paste.script.serving import watch_file, watched_files

__all__ = ["run_reloader", "watch_file", "watched_files"]


def run_reloader(command) -> int:
    """Serve ``command``'s application under the reload monitor until stopped.

    ``command`` is a :class:`paste.script.serve.ServeCommand` after argument
    parsing (or any object with the same attributes, see ``docs/reload.rst``);
    the monitor calls its ``load_app_and_server()`` in each worker.
    """
    from paste.script.serving.launch import run_reloader as run
    return run(command)
