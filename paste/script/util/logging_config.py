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
import errno
import logging.config

from logging.config import (  # noqa: F401  (the original exported them)
    DEFAULT_LOGGING_CONFIG_PORT, listen, stopListening)

__all__ = ["fileConfig", "listen", "stopListening"]

#: The errno of a connection reset by the peer (3.x's listener ignored it).
RESET_ERROR = errno.ECONNRESET

#: Level names accepted in ``level =`` lines, and their values (3.x's table).
log_levelNames = {
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "NOTSET": logging.NOTSET,
}


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
