# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Converting string option values (from INI files) in one place.

Server runners and ``[exe]`` sections receive every option as a string.
Each consumer declares its options once, in a table of name -> converter
(the way waitress's ``adjustments.py`` does), and calls :func:`convert`.
A bad value raises :class:`OptionError`, whose message names the option
and the value, so the command can print one line and exit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping


__all__ = [
    "OptionError", "asbool", "asint", "asfloat", "asoctal", "aslist",
    "asport", "assize", "at_least", "positive", "convert",
]

_TRUE = {"true", "yes", "on", "y", "t", "1"}
_FALSE = {"false", "no", "off", "n", "f", "0", ""}


class OptionError(ValueError):
    """A configuration option had a value that cannot be used."""

    def __init__(self, name: str, value: object, expected: str, where: str = ""):
        self.name = name
        self.value = value
        self.expected = expected
        self.where = where
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" in {self.where}" if self.where else ""
        return f"Bad value for option {self.name!r}{where}: {self.value!r} ({self.expected})"


def _named(expected: str):
    """Attach the human description used in error messages to a converter."""
    def mark(func):
        func.expected = expected
        return func
    return mark


@_named("expected true or false")
def asbool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


@_named("expected an integer")
def asint(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    return int(str(value).strip()) if not isinstance(value, int) else value


@_named("expected a number")
def asfloat(value: object) -> float:
    return float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)


@_named("expected an octal number such as 022")
def asoctal(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value).strip(), 8)


@_named("expected a port number between 0 and 65535")
def asport(value: object) -> int:
    port = asint(value)
    if not 0 <= port <= 65535:
        raise ValueError(value)
    return port


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@_named("expected a size in bytes, or with K, M, G or T (512M)")
def assize(value: object) -> int:
    """``512M`` -> 536870912; a bare number is bytes (units are powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text.endswith("B"):
        text = text[:-1]
    unit = text[-1:] if text[-1:] in _SIZE_UNITS and text[-1:] else ""
    number = float(text[:-1] if unit else text)
    if number < 0:
        raise ValueError(value)
    return int(number * _SIZE_UNITS[unit])


@_named("expected a list of words")
def aslist(value: object) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    return str(value).split()


def at_least(converter: Callable[[object], object], minimum) -> Callable[[object], object]:
    """``converter``, refusing results below ``minimum`` (``at_least(asint, 1)``)."""
    def check(value: object):
        result = converter(value)
        if result < minimum:
            raise ValueError(value)
        return result
    check.expected = f"{converter.expected}, at least {minimum}"
    check.__name__ = f"{converter.__name__}_at_least_{minimum}"
    return check


def positive(converter: Callable[[object], object]) -> Callable[[object], object]:
    """``converter``, refusing results of zero or less (``positive(asfloat)``)."""
    def check(value: object):
        result = converter(value)
        if not result > 0:
            raise ValueError(value)
        return result
    check.expected = f"{converter.expected} greater than 0"
    check.__name__ = f"positive_{converter.__name__}"
    return check


def convert(options: Mapping[str, object], table: Mapping[str, Callable[[object], object]],
            where: str = "", strict: bool = False) -> dict:
    """Return a copy of ``options`` with every value named in ``table`` converted.

    ``None`` values are left as they are (an option that was not given).
    Options missing from ``table`` pass through unchanged unless ``strict``,
    in which case they are an error.
    """
    result = {}
    for name, value in options.items():
        converter = table.get(name)
        if converter is None:
            if strict:
                raise OptionError(name, value, "unknown option", where)
            result[name] = value
            continue
        if value is None:
            result[name] = None
            continue
        try:
            result[name] = converter(value)
        except (TypeError, ValueError):
            expected = getattr(converter, "expected", f"expected {getattr(converter, '__name__', 'a valid value')}")
            raise OptionError(name, value, expected, where) from None
    return result
