# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""setuptools hooks: the ``paster_plugins`` keyword and its egg-info file.

A project says ``setup(..., paster_plugins=['PasteScript', 'Pylons'])``;
``egg_info`` then writes those names, one a line, to
``paster_plugins.txt``, which ``paster`` reads to activate the plugins'
commands inside the project. Only setuptools imports this module.
"""


def check_plugins(dist, attr, value):
    """Validate ``paster_plugins``: a list of distribution names."""
    if isinstance(value, str) or not all(isinstance(v, str) for v in value or ()):
        from setuptools.errors import SetupError
        raise SetupError(f"{attr!r} must be a list of distribution names, got {value!r}")


def write_plugins(cmd, basename, filename):
    """egg_info writer for ``paster_plugins.txt`` (removed when the list is empty)."""
    plugins = getattr(cmd.distribution, "paster_plugins", None) or []
    data = "".join(f"{name}\n" for name in plugins) or None
    cmd.write_or_delete_file("paster_plugins", filename, data)
