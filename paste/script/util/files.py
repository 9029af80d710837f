# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Writing files for commands and code generators: ``ensure_dir`` and ``ensure_file``.

:class:`FileWriter` is the one implementation behind
:meth:`paste.script.command.Command.ensure_file` and
:meth:`paste.script.filemaker.FileOp.ensure_file` (3.x had a copy in each).
Files are replaced through a temporary file in the same directory and a
rename, so a failure never leaves a partial file; a file that holds a
secret (see :attr:`FileWriter.secret_values`) is written readable by its
owner only, and the secret is never printed.
"""
from __future__ import annotations

import os

from paste.script.util.programs import ProgramRunner

__all__ = ["FileWriter", "replace_file"]


def replace_file(path: str, content: bytes, private: bool = False) -> None:
    """Make ``path`` hold ``content``, all of it or (on any error) none of it.

    The content goes to a new file beside ``path`` that is then renamed
    over it. A new file gets the umask's mode, an existing one keeps its
    mode; ``private`` makes it 0600 (owner read/write) either way. A
    symlink is written through, as ``open(path, 'wb')`` would.
    """
    import secrets
    path = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(path) or "."
    try:
        keep_mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        keep_mode = None
    mode = 0o600 if private else keep_mode
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, flags, 0o600 if private else 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(content)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


class FileWriter(ProgramRunner):
    """Mixin: ``ensure_dir`` and ``ensure_file``, with verbosity, simulation and questions.

    The class expects ``verbose``, ``simulate``, ``interactive`` and
    ``overwrite`` attributes (``Command`` and ``FileOp`` set them).
    """

    #: Strings never to print (a generated ``app_instance_secret``); a file
    #: whose content holds one is written with mode 0600.
    secret_values: tuple = ()

    def ensure_dir(self, dir: str, svn_add: bool = True, package: bool = False,
                   package_root: str | None = None) -> None:
        """Create ``dir`` and its missing parents (``svn add`` inside a working copy).

        With ``package``, every directory created gets an ``__init__.py``,
        and so does every directory from ``package_root`` (when given) down
        to ``dir``.
        """
        dir = dir.rstrip(os.sep)
        if dir and not os.path.exists(dir):
            self.ensure_dir(os.path.dirname(dir), svn_add=svn_add, package=package)
            if self.verbose:
                print(f"Creating {self.shorten(dir)}")
            if not self.simulate:
                os.mkdir(dir)
            if svn_add and os.path.exists(os.path.join(os.path.dirname(dir), ".svn")):
                self.svn_command("add", dir)
            if package:
                self._write_init(dir, svn_add)
        elif dir and self.verbose > 1:
            print(f"Directory already exists: {self.shorten(dir)}")
        if package and package_root:
            root = os.path.normpath(package_root)
            chain = [os.path.normpath(dir)]
            while chain[-1] != root and chain[-1].startswith(root.rstrip(os.sep) + os.sep):
                chain.append(os.path.dirname(chain[-1]))
            if chain[-1] == root:
                for directory in reversed(chain):
                    self._write_init(directory, svn_add)

    def _write_init(self, directory: str, svn_add: bool) -> None:
        init = os.path.join(directory, "__init__.py")
        if os.path.exists(init):
            return
        if self.verbose:
            print(f"Creating {self.shorten(init)}")
        if not self.simulate:
            replace_file(init, b"#\n")
        if svn_add and os.path.exists(os.path.join(directory, ".svn")):
            self.svn_command("add", init)

    def ensure_file(self, filename: str, content, svn_add: bool = True,
                    package: bool = False) -> None:
        """Make ``filename`` hold ``content`` (``str`` is written as UTF-8, or ``bytes``).

        A missing file is created (its directory too; with ``package``, as
        a package). A file with other content is shown as a diff and kept,
        unless ``overwrite`` is set or, when interactive, the answer to
        ``Overwrite file with new content? [y/N]`` is yes. Nothing is
        written when simulating; a failed write leaves no partial file.
        """
        if content is None:
            raise AssertionError("You cannot pass a content of None")
        if isinstance(content, str):
            content = content.encode("utf-8")
        self.ensure_dir(os.path.dirname(filename), svn_add=svn_add, package=package)
        private = self._holds_secret(content)
        if not os.path.exists(filename):
            if self.verbose:
                print(f"Creating {filename}")
            if not self.simulate:
                replace_file(filename, content, private)
            if svn_add and os.path.exists(os.path.join(os.path.dirname(filename), ".svn")):
                self.svn_command("add", filename, warn_returncode=True)
            return
        with open(filename, "rb") as f:
            old = f.read()
        if old == content:
            if self.verbose > 1:
                print(f"File {filename} matches expected content")
            return
        if not self.overwrite:
            print(f"Warning: file {filename} does not match expected content")
            diff = self._diff(old, content, filename)
            if diff:
                print(diff, end="" if diff.endswith("\n") else "\n")
            if not self.interactive or not self.ask_overwrite():
                print("Not overwriting")
                return
        if self.verbose:
            print(f"Overwriting {filename} with new content")
        if not self.simulate:
            replace_file(filename, content, private)

    def ask_overwrite(self) -> bool:
        """Ask whether to replace a differing file; no (the user's file stays) by default."""
        prompt = "Overwrite file with new content? [y/N] "
        while True:
            try:
                answer = input(prompt).strip().lower()
            except EOFError:
                print()
                raise EOFError(f"No answer (end of input) to: {prompt.strip()}") from None
            if not answer or answer.startswith("n"):
                return False
            if answer.startswith("y"):
                return True
            print("Unknown response; Y or N please")

    def _holds_secret(self, content: bytes) -> bool:
        return any(value and value.encode("utf-8") in content for value in self.secret_values)

    def _diff(self, old: bytes, new: bytes, filename: str) -> str:
        import difflib
        try:
            old_text = old.decode("utf-8")
            new_text = new.decode("utf-8")
        except UnicodeDecodeError:
            return "(binary files differ)"
        if self.secret_values:
            from paste.script.util.secret import hide_secrets
            old_text, new_text = hide_secrets([old_text, new_text], self.secret_values)
        return "".join(difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True),
                                            filename + " (old)", filename + " (new)"))
