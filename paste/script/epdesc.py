# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Descriptions of entry-point groups, shown by ``paster points``.

Each class is registered in ``paste.entry_point_description`` under the
name of the group it describes; its ``description`` is the text.
"""


class MetaEntryPointDescription:
    description = """
    Describes another entry-point group: the entry point's name is the
    group's name, and the object has a ``description`` attribute.
    """


class AppFactoryDescription:
    description = """
    A WSGI application factory: called as factory(global_conf, **local_conf)
    with the [app:...] section's options, it returns a WSGI application.
    """


class CompositeFactoryDescription:
    description = """
    A factory for applications built out of other applications:
    factory(loader, global_conf, **local_conf) returns a WSGI application;
    loader.get_app(name) loads the other sections.
    """


class FilterAppFactoryDescription:
    description = """
    A middleware factory: factory(wsgi_app, global_conf, **local_conf)
    returns a new WSGI application wrapping wsgi_app.
    """


class FilterFactoryDescription:
    description = """
    A filter factory: factory(global_conf, **local_conf) returns a function
    that takes a WSGI application and returns a wrapped one.
    """


class ServerFactoryDescription:
    description = """
    A server factory: factory(global_conf, **local_conf) returns a function
    that takes a WSGI application and serves it (blocking).
    """


class ServerRunnerDescription:
    description = """
    A server runner: runner(wsgi_app, global_conf, **local_conf) serves the
    application and blocks until the server stops. Used by [server:...]
    sections as use = egg:Dist#name.
    """


class ErrorCallbackDescription:
    description = """
    A function called with (exc_info, environ) when an application raises,
    for reporting errors.
    """


class GlobalPasterCommandDescription:
    description = """
    A paster command available everywhere: a paste.script.command.Command
    subclass, named by the entry point.
    """


class PasterCommandDescription:
    description = """
    A paster command available only where its distribution is an active
    plugin (listed in a project's paster_plugins.txt or given with
    paster --plugin).
    """


class PasterCreateTemplateDescription:
    description = """
    A project template for paster create -t NAME: a
    paste.script.templates.Template subclass.
    """


class AppInstallDescription:
    description = """
    The installer used by paster make-config and paster setup-app: a class
    like paste.script.appinstall.Installer, called with
    (distribution, entry_group, entry_name).
    """


class CreateTemplateDescription(PasterCreateTemplateDescription):
    """The original's name for the ``paste.paster_create_template`` description."""


class ConsoleScriptsDescription:
    description = """
    A command-line program: installers write a script of the entry point's
    name that calls the function (console_scripts).
    """


class DistutilsCommandsDescription:
    description = """
    A setup.py command (python setup.py NAME): a setuptools Command class.
    """


class SetupKeywordsDescription:
    description = """
    A keyword accepted by setup(): the function validates its value as
    check(dist, attr, value). PasteScript adds paster_plugins.
    """


class EggInfoWriters:
    description = """
    A file written into *.egg-info by egg_info: the function is called as
    writer(cmd, basename, filename). PasteScript writes paster_plugins.txt.
    """
