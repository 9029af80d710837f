# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Documentation of the interfaces plugins implement (nothing here runs).

:class:`paste.script.appinstall.Installer` is the default implementation
of :class:`IAppInstall`.
"""


class IAppInstall:
    """What ``paster make-config`` and ``paster setup-app`` expect of the
    object a distribution registers in the ``paste.app_install`` group.
    """

    def __init__(distribution, entry_group, entry_name):
        """Made with the distribution being installed, and the entry-point
        group and name of the application (usually ``paste.app_factory``,
        ``main``)."""

    def description(sys_config):
        """A text describing the application and its configuration, shown
        by ``paster make-config --info``; ``sys_config`` is the system
        configuration module, or None."""

    def write_config(command, filename, sys_config):
        """Write a new configuration to ``filename`` (a file or a directory,
        as the installer chooses), using the variables of the ``make-config``
        command (``command.simulate``, ``command.interactive``...)."""

    def setup_config(command, config_filename, config_section, sys_config):
        """Set the application up once its configuration exists (create
        databases, directories...): what ``paster setup-app`` runs."""
