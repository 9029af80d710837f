# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""An optparse option type ``"bool"`` that reads yes/no style values.

``parser.add_option('--debug', type='bool')`` accepts ``true``, ``yes``,
``on``, ``1`` and their opposites (any case); anything else is a usage
error naming the option.
"""
import optparse
from copy import copy

__all__ = ["BoolOption", "BoolOptionParser", "check_bool"]

_TRUE = ("true", "yes", "on", "y", "t", "1")
_FALSE = ("false", "no", "off", "n", "f", "0")


def check_bool(option, opt: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise optparse.OptionValueError(
        f"option {opt}: invalid boolean value: {value!r} (use yes or no)")


class BoolOption(optparse.Option):
    TYPES = optparse.Option.TYPES + ("bool",)
    TYPE_CHECKER = copy(optparse.Option.TYPE_CHECKER)
    TYPE_CHECKER["bool"] = check_bool


class BoolOptionParser(optparse.OptionParser):
    """An OptionParser whose options may use ``type='bool'``."""

    def __init__(self, *args, **kw):
        kw.setdefault("option_class", BoolOption)
        super().__init__(*args, **kw)
