"""Option letters and names against 3.7.0: every option 3.7 had means the same here.

Item 9 of issue 10: a letter 3.7 gave one option must not name another here
(``setup-app -n`` is ``--simulate``, ``make-config -f`` is
``--find-links``); new options get new letters or none.
"""
import re

import pytest

from tests.differential.harness import Pair

# exe is left out: 3.7's "paster exe -h" shows no options.
COMMANDS_37 = ["create", "help", "make-config", "points", "post", "request", "serve",
               "setup-app"]


def options(help_text: str) -> dict:
    """``{option string: the option's other strings}`` from optparse help output."""
    found = {}
    for line in help_text.splitlines():
        match = re.match(r"^  (-[^ ].*?)(?:  |$)", line)
        if not match:
            continue
        names = tuple(part.split("=")[0].split(" ")[0] for part in match.group(1).split(", "))
        for name in names:
            found[name] = names
    return found


@pytest.mark.parametrize("command", COMMANDS_37)
def test_every_37_option_means_the_same(pair: Pair, command):
    old, new = pair.run(command, "-h") if command != "help" else pair.run("help", "help")
    old_options, new_options = options(old.stdout), options(new.stdout)
    assert old_options, old.output
    for name, spelled in old_options.items():
        assert new_options.get(name) == spelled, (
            f"paster {command}: 3.7 has {', '.join(spelled)}; here {name} is "
            f"{', '.join(new_options.get(name, ('missing',)))}")
    # (options only we have are free to take a letter 3.7 did not use here)


def test_setup_app_n_is_simulate(probe_pair: Pair):
    def setup(work):
        (work / "probe.ini").write_text("[app:main]\nuse = egg:PasteApiProbe\n")
    old, new = probe_pair.run("setup-app", "-n", "probe.ini", setup=setup)
    assert old.returncode == new.returncode == 0
    assert "websetup simulate: True\n" in old.stdout
    assert new.stdout == old.stdout
    # so a section name after -n is a second argument, as in 3.7
    old, new = probe_pair.run("setup-app", "-n", "main", "probe.ini", setup=setup)
    assert old.returncode == new.returncode == 2
    assert old.stdout.strip() == new.stderr.strip() == "You must provide no more than 1 arguments"


@pytest.mark.parametrize("args", [
    ["-f", "http://example.invalid/links"],
    ["--find-links=http://example.invalid/links", "--find-links", "/tmp"],
    ["--easy-install", "exclude-scripts"],
    ["--easy-install=always-unzip", "-f", "x", "--no-install"],
])
def test_make_config_easy_install_options_accepted(probe_pair: Pair, args):
    old, new = probe_pair.run("make-config", *args, "PasteApiProbe", "probe.ini")
    assert (old.returncode, old.stderr) == (0, "")
    assert new.returncode == 0
    assert new.stdout == old.stdout
    assert new.tree() == old.tree()
    # Documented difference: easy_install is gone, so ours says once that
    # these are ignored (3.7 only used them when it had to install).
    assert new.stderr == ("Note: easy_install is gone, so --easy-install and --find-links "
                          "are ignored (install packages with pip)\n")


def test_make_config_simulate_and_no_install(probe_pair: Pair):
    old, new = probe_pair.run("make-config", "-n", "--no-install", "PasteApiProbe", "probe.ini")
    assert (old.returncode, new.returncode) == (0, 0)
    assert (old.stderr, new.stderr) == ("", "")

    def steady(text):  # --simulate shows the variables, two of them random
        return re.sub(r"(app_instance_(?:secret|uuid)): .*", r"\1: ...", text)
    assert "Variables for installation:" in new.stdout
    assert steady(new.stdout) == steady(old.stdout)
    assert new.tree() == old.tree() == {}
