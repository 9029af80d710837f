"""Real template packages from the registry, on 3.7.0 and on ours.

Each template package is pinned to an exact release, built once into a
wheel and installed (without its dependencies) into one overlay pair. What
the templates import but the two sides lack is supplied to both sides
alike; requirements they declare but never import get metadata-only stub
distributions, because 3.7.0 resolves every declared requirement with
pkg_resources before it loads a template (lfc-skel requires ``Cheetah``,
which today is ``Cheetah3``).

Every test compares exit codes and the generated trees (names and bytes);
where 3.7 crashes, prints a traceback or hangs, the test asserts the
difference that ``docs/changelog.rst`` lists.
"""
from __future__ import annotations

import re

import pytest

from tests.differential.harness import Pair, assert_no_answer, assert_same_run, build_wheels

#: The template packages: they install on Python 3.11 and work with 3.7.0.
TEMPLATE_PACKAGES = [
    "lfc-skel==1.0a2",
    "OpenCorePaste==0.1",
    "khufu_opinion==0.5",
    "openerp_pastertemplates==1.0a5",
    "TemplateTemplate==0.1",
    "ccnmtldjango==1.11.0",
    "frapwings.skels==0.1.0",
    "flask-skel==0.4",
    "gocept.package==3.1",
    "django-project-templates==0.11",
    "harobed.paster_template.advanced_package==0.2",
    "anybox.paster.odoo==1.5",
    "anybox.paster.openerp==0.7",
]

#: What the templates import that one side or the other lacks: flask-skel
#: imports tempita (3.7.0 rendered with Paste's copy of it); gocept.package
#: imports pkginfo; khufu_opinion, harobed's and gocept.package import
#: Paste's ``paste.util.template`` (3.7.0 depends on Paste, ours does not);
#: ccnmtldjango imports pkg_resources, which setuptools 82 removed.
SUPPLIED = ["tempita==0.6.0", "pkginfo==1.12.0", "Paste==3.10.1", "setuptools==81.0.0"]

#: Declared by the template packages, never imported by their templates
#: (setuptools_git is frapwings' projects' setup_requires, which egg_info
#: would otherwise download).
STUBS = (("Cheetah", "2.4.4"), ("fabric", "1.0"), ("pyramid", "1.0"), ("Chameleon", "1.2"),
         ("pyramid_jinja2", "1.0"), ("khufu_sqlalchemy", "0.1"), ("khufu_script", "0.1"),
         ("setuptools_git", "1.0"))

#: gocept.package's post() runs ``hg init``; this stands in for Mercurial.
FAKE_HG = '#!/bin/sh\n[ "$1" = init ] && mkdir -p "$2/.hg"\nexit 0\n'


@pytest.fixture(scope="session")
def templates(overlay_pair, tmp_path_factory) -> Pair:
    wheels = build_wheels(tmp_path_factory.mktemp("template-wheels"),
                          *TEMPLATE_PACKAGES, *SUPPLIED)
    pair = overlay_pair("thirdparty-templates", *wheels, stubs=STUBS)
    for side in (pair.old, pair.new):
        hg = side.bindir / "hg"
        hg.write_text(FAKE_HG)
        hg.chmod(0o755)
    return pair


@pytest.mark.parametrize("template, args", [
    # lfc-skel: Cheetah; macOS ._*_tmpl files that only the dotfile rule skips.
    ("lfc_app", ["Proj"]),
    # OpenCorePaste: a BasicPackage subclass with {{...}} files.
    ("opencore_plugin", ["Proj", "version=1.0", "description=A plugin"]),
    # khufu_opinion: paste.util.template's renderer.
    ("khufu_starter", ["Proj"]),
    # openerp_pastertemplates: Cheetah, egg_plugins, vars changed in pre().
    ("openerp_newmodule", ["Proj", "depends=sale stock", "is_web=yes"]),
    ("template", ["Proj"]),                                   # TemplateTemplate
    ("ccnmtldjango", ["Proj"]),
    ("frapwings_package", ["Proj"]),
    ("gocept-package", ["gocept.example"]),
    ("gocept-webapp", ["Proj"]),
    # django-project-templates: ._*_tmpl files; the secret key given, not random.
    ("django_project", ["Proj", "secret_key=not-random"]),
    ("newsapps_project", ["Proj", "secret_key=not-random", "db_password=fixed"]),
    # harobed's: its post() copies its own dotfiles; a src/ layout.
    ("advanced_package", ["Proj"]),
    ("advanced_package", ["Proj", "buildout=True", "version=2.1"]),
    # PasteDeploy's own template.
    ("paste_deploy", ["Proj"]),
])
def test_same_tree_as_37(templates: Pair, template, args):
    old, new = templates.run("create", "-t", template, "--no-interactive", *args)
    assert_same_run(old, new)


def test_flask_skel(templates: Pair):
    old, new = templates.run("create", "-t", "flask-skel", "--no-interactive", "Proj")
    secret = re.compile(rb"SECRET_KEY = '([^']*)'")
    keys = []
    for result in (old, new):
        config = result.cwd / "Proj" / "project" / "config.py"
        text = config.read_bytes()
        keys.append(secret.search(text).group(1))
        config.write_bytes(secret.sub(b"SECRET_KEY = '(random)'", text))
    # A fresh random secret_string() on each side, 25 characters.
    assert [len(key) for key in keys] == [25, 25] and keys[0] != keys[1]
    assert_same_run(old, new)


def test_lfc_app_interactive(templates: Pair):
    # Interactive, lfc-skel's check_vars deletes "package" once; all defaults.
    old, new = templates.run("create", "-t", "lfc_app", "Proj", input="\n" * 12)
    assert_same_run(old, new)


@pytest.mark.parametrize("template, answers", [
    ("odoo_instance", "Me\nme@example.com\n\nAn instance\ng\n"),
    ("openerp_instance", "Me\nme@example.com\n\nAn instance\n\nn\ny\n"),
])
def test_instance_templates_asking_in_pre(templates: Pair, template, answers):
    old, new = templates.run("create", "-t", template, "--no-interactive", "Proj",
                             input=answers)
    assert_same_run(old, new)


@pytest.mark.parametrize("template", ["odoo_instance", "openerp_instance"])
def test_instance_templates_at_end_of_input(templates: Pair, template):
    # They ask again until answered, even with --no-interactive. 3.7 ended
    # with an EOFError traceback; ours says so in one line (before issue 10
    # it looped for ever, printing prompts).
    old, new = templates.run("create", "-t", template, "--no-interactive", "Proj",
                             input="", timeout=60)
    assert_no_answer(old, new, "Please enter the author name : ['Anybox']:")


def test_template_whose_directory_is_missing(templates: Pair):
    # django-project-templates 0.11 names a template directory it does not ship.
    old, new = templates.run("create", "-t", "django_cruisecontrol_project",
                             "--no-interactive", "Proj")
    assert old.returncode == new.returncode == 1
    assert "Traceback" in old.stderr and "FileNotFoundError" in old.stderr
    assert "Traceback" not in new.output
    assert new.stderr.strip().endswith("django_cruisecontrol_project does not exist")


def test_list_templates(templates: Pair):
    old, new = templates.run("create", "--list-templates")
    assert old.returncode == new.returncode == 0
    # anybox's *_module templates are Python 2 code: both warn about them
    # before the list, in 3.7's words, and list the others alike.
    assert new.stdout == old.stdout
    assert re.findall(r"^Warning: could not load entry point (\S+)", new.stdout, re.M) == [
        "odoo_module", "openerp_module"]
