# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``--log-file``: stdout and stderr of the monitor and its workers, reopened on SIGUSR1.

After ``logrotate`` has moved the file away, SIGUSR1 makes the monitor open
the path again and send the new descriptor to every worker, which puts it
in place of its standard output and error. Workers may run as another user
(``--user``) who could not open the file themselves: they write through the
descriptor the monitor opened. A file the monitor creates is handed to that
user; one it finds in place (``logrotate``'s ``create``) keeps its owner and
mode. The path is never followed through a symbolic link.
"""
from __future__ import annotations

import os
import sys

__all__ = ["LogFile", "open_log"]


def open_log(path: str, owner: tuple[int, int] | None = None) -> int:
    """A descriptor appending to ``path``; raises ``OSError``.

    A missing file is created, and given to ``owner`` (uid, gid) if any. A
    symbolic link, or a regular file with a second hard link, is refused.
    """
    from paste.script.daemon import open_no_follow
    fd, created = open_no_follow(os.path.abspath(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    if created and owner is not None:
        try:
            os.fchown(fd, *owner)
        except OSError:
            os.close(fd)
            raise
    return fd


class LogFile:
    """The ``--log-file`` of a running server (``path`` None: there is none)."""

    def __init__(self, path: str | None, owner: tuple[int, int] | None = None):
        self.path = os.path.abspath(path) if path else None
        self.owner = owner

    def reopen(self) -> int | None:
        """Point fds 1 and 2 at a fresh open of the path; return it for the workers."""
        if self.path is None:
            return None
        fd = open_log(self.path, self.owner)
        from paste.script.daemon import redirect_output
        redirect_output(fd)
        return fd

    def reopen_for(self, workers, say, verbose: int = 1) -> None:
        """SIGUSR1: reopen the file here, and hand it to every worker."""
        try:
            fd = self.reopen()
        except OSError as exc:
            say(f"SIGUSR1: cannot reopen {self.path}: {exc.strerror}", sys.stderr)
            return
        if fd is None:
            say("SIGUSR1: there is no --log-file to reopen.")
            return
        for worker in workers:
            worker.send({"op": "log"}, [fd])
        os.close(fd)
        if verbose > 1:
            say(f"SIGUSR1: reopened {self.path}.")
