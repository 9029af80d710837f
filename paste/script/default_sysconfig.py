# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The default *sysconfig*: the hooks ``make-config`` and ``setup-app`` call.

A sysconfig is a Python module or file that adapts application installs
to one machine (where config files go, which variables they get, what
happens after setup). ``make-config`` and ``setup-app`` load, from the
most to the least specific, every file given with ``--sysconfig``, then
``$PASTE_SYSCONFIG``, ``~/.paste/sysconfig.py``,
``~/.paste/config/sysconfig.py``, ``/usr/local/etc/paste/sysconfig.py``,
``/etc/paste/sysconfig.py`` and finally this module (``--no-default-sysconfig``
drops all but the ``--sysconfig`` ones). Each may define any of the functions
below; a missing file is skipped.

Every loaded sysconfig gets a global ``paste_command``: the running
command object (its ``options``, ``verbose``, ``simulate``...).
"""

paste_command = None


def add_custom_options(parser) -> None:
    """Add options to the command's ``optparse`` parser (all sysconfigs are called)."""


def default_config_filename(installer):
    """The config file (or directory) to write when none is given, or None.

    The first sysconfig that returns something other than None wins. The
    installer may say whether it expects a directory
    (``installer.expect_config_directory``) and may suggest a name
    (``installer.default_config_filename``).
    """
    return installer.default_config_filename


def install_variables(installer) -> dict:
    """Variables for the config template; a more specific sysconfig overrides."""
    return {}


def post_setup_hook(installer, config_file) -> None:
    """Called at the very end of ``paster setup-app`` (all sysconfigs are called)."""
