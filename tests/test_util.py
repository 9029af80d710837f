import io
import logging
import optparse

import pytest

from paste.script.bool_optparse import BoolOptionParser
from paste.script.util import options, secret, specs
from paste.script.util.logging_config import fileConfig


def test_secret_string_is_random_and_safe():
    values = {secret.secret_string() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) == 25
        assert all(c.isalnum() or c in "+/" for c in value)  # base64's alphabet, as in 3.x
    assert len(secret.secret_string(100)) == 100
    assert len(secret.random_bytes(16)) == 16 and secret.random_bytes(16) != secret.random_bytes(16)


@pytest.mark.parametrize("spec, expected", [
    ("config:app.ini", True), ("egg:PasteScript#wsgiutils", True), ("CONFIG:x.ini", True),
    # RFC 3986 allows one-letter schemes and digits, '+', '-', '.' after the first letter
    ("x:y", True), ("svn+ssh:host", True), ("a1.b-c:d", True),
    ("app.ini", False), ("./app.ini", False), ("/etc/app.ini", False), ("1abc:x", False),
    (":x", False), ("C:\\srv\\app.ini", False), ("c:/srv/app.ini", False),
])
def test_has_scheme(spec, expected):
    assert specs.has_scheme(spec) is expected


def test_bool_optparse():
    parser = BoolOptionParser()
    parser.add_option("--debug", type="bool")
    for text, value in [("yes", True), ("On", True), ("1", True), ("false", False), ("NO", False)]:
        opts, _ = parser.parse_args([f"--debug={text}"])
        assert opts.debug is value
    with pytest.raises(SystemExit):
        parser.parse_args(["--debug=perhaps"])


def test_options_convert_table():
    table = {"port": options.asport, "threads": options.asint, "debug": options.asbool,
             "umask": options.asoctal, "timeout": options.asfloat, "hosts": options.aslist}
    got = options.convert({"port": "8080", "threads": " 4 ", "debug": "true", "umask": "022",
                           "timeout": "2.5", "hosts": "a b", "other": "kept"}, table)
    assert got == {"port": 8080, "threads": 4, "debug": True, "umask": 0o22, "timeout": 2.5,
                   "hosts": ["a", "b"], "other": "kept"}


@pytest.mark.parametrize("name, value, expected", [
    ("port", "abc", "expected a port number"),
    ("port", "70000", "expected a port number"),
    ("threads", "many", "expected an integer"),
    ("debug", "perhaps", "expected true or false"),
    ("umask", "999", "expected an octal number"),
])
def test_options_convert_errors_name_the_option(name, value, expected):
    table = {"port": options.asport, "threads": options.asint, "debug": options.asbool,
             "umask": options.asoctal}
    with pytest.raises(options.OptionError) as info:
        options.convert({name: value}, table, where="[server:main] of app.ini")
    message = str(info.value)
    assert message.startswith(f"Bad value for option {name!r} in [server:main] of app.ini: {value!r}")
    assert expected in message


def test_options_strict_rejects_unknown():
    with pytest.raises(options.OptionError, match="unknown option"):
        options.convert({"bogus": "1"}, {}, strict=True)


def test_logging_file_config_defaults_and_existing_loggers(tmp_path):
    early = logging.getLogger("created.before.config")
    config = tmp_path / "log.ini"
    config.write_text(
        "[loggers]\nkeys = root\n[handlers]\nkeys = stream\n[formatters]\nkeys = f\n"
        "[logger_root]\nlevel = INFO\nhandlers = stream\n"
        "[handler_stream]\nclass = FileHandler\nargs = ('%(here)s/log.txt',)\nformatter = f\n"
        "[formatter_f]\nformat = %(levelname)s %(message)s\n")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        fileConfig(str(config), {"here": str(tmp_path)})
        early.info("still works")
        for handler in root.handlers:
            handler.flush()
        assert (tmp_path / "log.txt").read_text() == "INFO still works\n"
        assert early.disabled is False
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    with pytest.raises(FileNotFoundError):
        fileConfig(str(tmp_path / "missing.ini"))
