# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Logging configuration from INI files.

``fileConfig`` has the signature of :func:`logging.config.fileConfig` and
the same file format; the defaults (``here``, ``__file__``) are available
for ``%(here)s`` interpolation, and existing loggers that the file does
not mention keep working (``disable_existing_loggers`` defaults to False,
because an application's loggers are often created before the server
configures logging).
"""
import configparser
import logging.config

from logging.config import listen, stopListening  # noqa: F401  (the original exported them)

__all__ = ["fileConfig", "listen", "stopListening"]


def fileConfig(fname, defaults=None, disable_existing_loggers=False, encoding=None):
    """Configure logging from the ``[loggers]``/``[handlers]``/``[formatters]`` of ``fname``."""
    parser = configparser.ConfigParser(defaults)
    if hasattr(fname, "readline"):
        parser.read_file(fname)
    else:
        read = parser.read(fname, encoding=encoding or "utf-8")
        if not read:
            raise FileNotFoundError(f"Logging configuration file not found: {fname}")
    logging.config.fileConfig(parser, disable_existing_loggers=disable_existing_loggers)
