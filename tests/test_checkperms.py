"""paste.script.checkperms: permission and ownership specs."""
from __future__ import annotations

import os

import pytest

from paste.script import checkperms


@pytest.mark.parametrize("spec, mode", [
    ("rw-r--r--", 0o644), ("rw-rwsr--", 0o2664), ("r-xr--r--", 0o544), ("r--------", 0o400),
    ("rwsr-xr-x", 0o4655), ("---------", 0),
])
def test_read_perm_spec(spec, mode):
    assert checkperms.read_perm_spec(spec) == mode


@pytest.mark.parametrize("spec, message", [
    ("rw-rw-rws", "cannot be suid/sgid"), ("qw-r--r--", "'q' unexpected"),
    ("r?-r--r--", "'?' unexpected"), ("rwzr--r--", "'z' unexpected"), ("rw-", "9 characters"),
])
def test_read_perm_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        checkperms.read_perm_spec(spec)


@pytest.mark.parametrize("cur, mode, keep_exe, expected", [
    (0o775, 0o644, True, 0o755), (0o775, 0o744, True, 0o744),
    (0o100600, 0o644, True, 0o100644), (0o775, 0o644, False, 0o644),
])
def test_calc_set_mode(cur, mode, keep_exe, expected):
    assert checkperms.calc_set_mode(cur, mode, keep_exe) == expected


def test_set_mode_and_mode_diff(tmp_path):
    path = tmp_path / "f"
    path.write_text("")
    os.chmod(path, 0o640)
    assert checkperms.mode_diff(str(path), 0o644) == ["not set: read by others"]
    assert checkperms.mode_diff(str(path), 0o600) == ["set: allow read by group members"]
    checkperms.set_mode(str(path), checkperms.read_perm_spec("rw-r--r--"))
    assert os.stat(path).st_mode & 0o7777 == 0o644
    assert checkperms.mode_diff(str(path), 0o644) == []
    directory = tmp_path / "d"
    directory.mkdir()
    os.chmod(directory, 0o755)
    assert checkperms.mode_diff(str(directory), 0o700) == [
        "set: allow read by group members", "set: group members can search directory",
        "set: read by others", "set: others can search directory"]


def test_ownership(tmp_path):
    import pwd
    path = tmp_path / "f"
    path.write_text("")
    me = os.stat(path)
    assert checkperms.calc_ownership_spec("-") == (None, None, None, None)
    assert checkperms.calc_ownership_spec("0:0") == (None, None, None, None)
    name = pwd.getpwuid(me.st_uid).pw_name
    uid, user, _, _ = checkperms.calc_ownership_spec(name)
    assert (uid, user) == (me.st_uid, name)
    assert checkperms.ownership_diff(str(path), "-") == []
    checkperms.set_ownership(str(path), "-")
    assert os.stat(path).st_uid == me.st_uid
