"""Running external programs from a command, and showing paths in messages.

:class:`ProgramRunner` holds the helpers that :class:`paste.script.command.Command`
and :class:`paste.script.filemaker.FileOp` share, with the contract they had
in PasteScript 3.x (code generators call them): ``run_command`` returns the
program's stdout as bytes (``None`` when simulating), ``svn_command`` never
raises, ``shorten`` makes a path relative to the current directory.

The class expects ``self.verbose`` and ``self.simulate``.
"""
from __future__ import annotations

import os
import sys

__all__ = ["ProgramRunner", "UnexpectedArguments"]


class UnexpectedArguments(TypeError, AssertionError):
    """``run_command`` got a keyword argument it does not know.

    A ``TypeError``, as for any call with a wrong keyword, and an
    ``AssertionError``, which is what 3.x raised.
    """


class ProgramRunner:
    """Mixin: ``run_command``, ``svn_command``, ``shorten``, ``quote_first_command_arg``."""

    _svn_failed = False

    def shorten(self, fn: str, *paths: str) -> str:
        """``fn`` (joined with ``paths``) relative to the current directory when under it."""
        if paths:
            fn = os.path.join(fn, *paths)
        cwd = os.getcwd()
        if fn.startswith(cwd):
            return fn[len(cwd):].lstrip(os.path.sep)
        return fn

    def run_command(self, cmd: str, *args: str, **kw):
        """Run ``cmd`` with ``args``, respecting verbosity and simulation.

        Returns the program's stdout as bytes, or None when simulating.
        Keyword arguments:

        ``cwd``
            the directory to run it in (default: the current one);
        ``capture_stderr``
            return stderr too, merged into stdout (otherwise stderr is only
            shown when the program fails);
        ``expect_returncode``
            a non-zero exit status is not an error;
        ``warn_returncode``
            a non-zero exit status prints a warning instead of being an error;
        ``force_no_simulate``
            run the program even under ``--simulate``.

        A missing program raises ``OSError``; so does a non-zero exit status
        unless expected.
        """
        cmd = self.quote_first_command_arg(cmd)
        cwd = kw.pop("cwd", None) or os.getcwd()
        capture_stderr = kw.pop("capture_stderr", False)
        expect_returncode = kw.pop("expect_returncode", False)
        force = kw.pop("force_no_simulate", False)
        warn_returncode = kw.pop("warn_returncode", False)
        if kw:
            raise UnexpectedArguments(f"Arguments not expected: {kw}")
        described = f"{cmd} {' '.join(args)}"
        if self.simulate and not force:
            _check_executable(cmd)
            if self.verbose:
                print(f"Running {described}")
            return None
        proc = self._start_program([cmd, *args], cwd, capture_stderr)
        if self.verbose:
            print(f"Running {described}")
        stdout, stderr = proc.communicate()
        returncode = proc.returncode
        if returncode and not (expect_returncode or warn_returncode):
            if not self.verbose:
                print(f"Running {described}")
            print(f"Error (exit code: {returncode})")
            if stderr:
                print(_text(stderr))
            raise OSError(f"Error executing command {cmd}")
        self._report_program(described, returncode, stdout, stderr, warn_returncode)
        return stdout

    @staticmethod
    def _start_program(argv: list, cwd: str, capture_stderr: bool):
        """``argv`` started in ``cwd`` with its output piped; ``OSError`` if it is missing."""
        import subprocess
        try:
            return subprocess.Popen(
                argv, cwd=cwd, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if capture_stderr else subprocess.PIPE)
        except FileNotFoundError as exc:
            raise OSError(f"The expected executable {argv[0]} was not found ({exc})") from None

    def _report_program(self, described: str, returncode: int, stdout: bytes,
                        stderr: bytes | None, warn_returncode: bool) -> None:
        """What a program that ran said: its output with ``-vvv``, else a failure warning."""
        if self.verbose > 2:
            if stderr:
                print("Command error output:")
                print(_text(stderr))
            if stdout:
                print("Command output:")
                print(_text(stdout))
        elif returncode and warn_returncode:
            print(f"Warning: command failed ({described})")
            print(f"Exited with code {returncode}")

    def svn_command(self, *args: str, **kw):
        """``run_command('svn', ...)`` that reports a failure once instead of raising."""
        try:
            return self.run_command("svn", *args, **kw)
        except OSError as exc:
            if not self._svn_failed:
                print(f"Unable to run svn command ({exc}); proceeding anyway")
                self._svn_failed = True
            return None

    def quote_first_command_arg(self, arg: str) -> str:
        """Quote a program path containing spaces on Windows (no-op elsewhere)."""
        if sys.platform == "win32" and " " in arg and not arg.startswith('"'):
            return f'"{arg}"'
        return arg


def _check_executable(cmd: str) -> None:
    """The ``OSError`` run_command raises for a missing program, without running it."""
    import shutil
    if os.sep in cmd or (os.altsep and os.altsep in cmd):
        found = os.path.isfile(cmd) and os.access(cmd, os.X_OK)
    else:
        found = shutil.which(cmd) is not None
    if not found:
        error = FileNotFoundError(2, "No such file or directory", cmd)
        raise OSError(f"The expected executable {cmd} was not found ({error})")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").rstrip("\n")
