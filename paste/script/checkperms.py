# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Checking and setting the permissions and ownership of files (POSIX).

Templates call these from their ``post()`` hook, e.g. to make a generated
script executable::

    from paste.script.checkperms import read_perm_spec, set_mode
    set_mode(os.path.join(output_dir, 'manage.py'), read_perm_spec('rwxr-xr-x'))

A permission spec is nine characters, ``rwx`` for the owner, the group and
others, with ``-`` for a missing right and ``s`` (owner or group) for the
setuid/setgid bit. An ownership spec is ``user[:group]``, names or numbers,
``-`` for "any".
"""
from __future__ import annotations

import os
import stat

__all__ = [
    "read_perm_spec", "mode_diff", "calc_mode_diff", "calc_set_mode", "set_mode",
    "calc_ownership_spec", "ownership_diff", "set_ownership",
    "modes", "exe_bits", "exe_mask", "full_mask",
]

#: ``(bit, meaning for a file, meaning for a directory)``, high bits first.
modes = [
    (0o4000, "setuid bit", "setuid bit: make contents owned by directory owner"),
    (0o2000, "setgid bit", "setgid bit: make contents inherit permissions from directory"),
    (0o1000, "sticky bit", "sticky bit: append-only directory"),
    (0o0400, "read by owner", "read by owner"),
    (0o0200, "write by owner", "write by owner"),
    (0o0100, "execute by owner", "owner can search directory"),
    (0o0040, "allow read by group members", "allow read by group members"),
    (0o0020, "allow write by group members", "allow write by group members"),
    (0o0010, "execute by group members", "group members can search directory"),
    (0o0004, "read by others", "read by others"),
    (0o0002, "write by others", "write by others"),
    (0o0001, "execution by others", "others can search directory"),
]

exe_bits = [0o100, 0o010, 0o001]
exe_mask = 0o111
full_mask = 0o7777

_SETID_BITS = (0o4000, 0o2000, 0)


def read_perm_spec(spec: str) -> int:
    """The mode bits of a spec such as ``'rw-r--r--'`` (0o644) or ``'rw-rwsr--'`` (0o2664)."""
    if len(spec) != 9:
        raise ValueError(f"A permission spec has 9 characters (like 'rw-r--r--'), not {spec!r}")
    total = 0
    for index in range(3):
        read, write, execute = spec[index * 3:index * 3 + 3]
        bits = 0
        if read == "r":
            bits |= 4
        elif read != "-":
            raise ValueError(f"Character {read!r} unexpected (should be '-' or 'r')")
        if write == "w":
            bits |= 2
        elif write != "-":
            raise ValueError(f"Character {write!r} unexpected (should be '-' or 'w')")
        if execute == "x":
            bits |= 1
        elif execute not in ("s", "-"):
            raise ValueError(f"Character {execute!r} unexpected (should be '-', 'x', or 's')")
        if execute == "s" and index == 2:
            raise ValueError("The 'other' executable setting cannot be suid/sgid ('s')")
        total |= bits << ((2 - index) * 3)
        if execute == "s":
            total |= _SETID_BITS[index]
    return total


def _keeps_exe(mode: int, keep_exe: bool) -> bool:
    # A spec that sets any executable bit decides them all.
    return keep_exe and not mode & exe_mask


def mode_diff(filename: str, mode: int, **kw) -> list:
    """The differences between ``filename``'s mode and ``mode`` (see :func:`calc_mode_diff`)."""
    return calc_mode_diff(os.stat(filename).st_mode, mode, **kw)


def calc_mode_diff(cur_mode: int, mode: int, keep_exe: bool = True,
                   not_set: str = "not set: ", set: str = "set: ") -> list:
    """How ``cur_mode`` (an ``st_mode``) differs from the wanted ``mode``, as messages.

    With ``keep_exe``, executable bits are ignored when ``mode`` has none.
    A directory (known from ``cur_mode``'s file type) gets the directory
    wording. An empty list means no difference.
    """
    keep_exe = _keeps_exe(mode, keep_exe)
    isdir = stat.S_ISDIR(cur_mode)
    diffs = []
    for bit, file_desc, dir_desc in modes:
        if keep_exe and bit in exe_bits:
            continue
        desc = dir_desc if isdir else file_desc
        if mode & bit and not cur_mode & bit:
            diffs.append(not_set + desc)
        if not mode & bit and cur_mode & bit:
            diffs.append(set + desc)
    return diffs


def calc_set_mode(cur_mode: int, mode: int, keep_exe: bool = True) -> int:
    """The mode to set: ``mode``, keeping ``cur_mode``'s file type bits.

    With ``keep_exe`` and a ``mode`` without executable bits, the current
    executable bits stay: ``calc_set_mode(0o775, 0o644) == 0o755``.
    """
    keep = cur_mode & ~full_mask
    if _keeps_exe(mode, keep_exe):
        keep |= cur_mode & exe_mask
    return keep | mode


def set_mode(filename: str, mode: int, **kw) -> None:
    """Change ``filename``'s mode as :func:`calc_set_mode` says."""
    os.chmod(filename, calc_set_mode(os.stat(filename).st_mode, mode, **kw))


def calc_ownership_spec(spec: str) -> tuple:
    """``(uid, user, gid, group)`` for ``'user:group'``; None where any will do.

    Names or numbers; ``-`` (or 0, or a missing ``:group``) means no
    preference.
    """
    import grp
    import pwd
    user_spec, _, group_spec = spec.partition(":")
    uid, user = _owner(user_spec or "-", pwd.getpwnam, pwd.getpwuid, "pw_uid", "pw_name")
    gid, group = _owner(group_spec or "-", grp.getgrnam, grp.getgrgid, "gr_gid", "gr_name")
    return uid, user, gid, group


def _owner(spec: str, by_name, by_id, id_field: str, name_field: str) -> tuple:
    if spec == "-":
        return None, None
    try:
        number = int(spec)
    except ValueError:
        return getattr(by_name(spec), id_field), spec
    if not number:
        return None, None
    return number, getattr(by_id(number), name_field)


def ownership_diff(filename: str, spec: str) -> list:
    """How ``filename``'s owner and group differ from ``spec``, as messages."""
    import grp
    import pwd
    uid, user, gid, group = calc_ownership_spec(spec)
    st = os.stat(filename)
    diffs = []
    if uid and uid != st.st_uid:
        diffs.append(f"owned by {pwd.getpwuid(st.st_uid).pw_name} (should be {user})")
    if gid and gid != st.st_gid:
        diffs.append(f"group {grp.getgrgid(st.st_gid).gr_name} (should be {group})")
    return diffs


def set_ownership(filename: str, spec: str) -> None:
    """Change ``filename``'s owner and group to ``spec`` (keeping what it leaves open)."""
    uid, _, gid, _ = calc_ownership_spec(spec)
    st = os.stat(filename)
    os.chown(filename, uid or st.st_uid, gid or st.st_gid)
