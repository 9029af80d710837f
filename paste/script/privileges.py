# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Switching to another user and group (``paster serve --user/--group``).

:func:`resolve` turns names (or numbers) into ids early, so that a typo is
reported before anything is started; :func:`drop_privileges` switches the
process for good, supplementary groups included.
"""
from __future__ import annotations

import os
from collections import namedtuple

__all__ = ["Identity", "PrivilegeError", "resolve", "drop_privileges"]


class PrivilegeError(Exception):
    """An unknown user or group, or a switch this process may not make."""


# The ids to switch to (None: keep), the user's name and home directory.
Identity = namedtuple("Identity", "uid gid user home")


def _lookup_user(user: str):
    import pwd
    try:
        return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"Unknown user {user!r} (--user)") from None


def _lookup_group(group: str) -> int:
    import grp
    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise PrivilegeError(f"Unknown group {group!r} (--group)") from None


def resolve(user: str | None, group: str | None) -> Identity | None:
    """The ids to switch to, or None when neither is given.

    A user without a group gets the user's primary group. Switching needs
    root unless the ids are already ours.
    """
    if not user and not group:
        return None
    uid = gid = name = home = None
    if user:
        entry = _lookup_user(str(user))
        uid, gid, name, home = entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir
    if group:
        gid = _lookup_group(str(group))
    if os.geteuid() != 0 and (uid not in (None, os.getuid()) or gid not in (None, os.getgid())):
        raise PrivilegeError(
            f"Switching to user {user or '-'} / group {group or '-'} needs root "
            f"(running as uid {os.getuid()})")
    return Identity(uid, gid, name, home)


def drop_privileges(identity: Identity | None) -> None:
    """Become ``identity``: groups first, then the user (the order that is allowed)."""
    if identity is None:
        return
    # Python imports some codecs on first use; the one that host name
    # resolution needs must be loaded while the interpreter's files are
    # surely readable (they may not be by the new user).
    "localhost".encode("idna")
    if identity.gid is not None:
        if os.geteuid() == 0:
            if identity.user:
                os.initgroups(identity.user, identity.gid)
            else:
                os.setgroups([identity.gid])
        os.setgid(identity.gid)
    if identity.uid is not None:
        os.setuid(identity.uid)
        if identity.user:
            os.environ["USER"] = os.environ["LOGNAME"] = identity.user
        if identity.home:
            os.environ["HOME"] = identity.home
