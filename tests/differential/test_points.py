"""``paster points`` against 3.7.0: patterns, listing, descriptions, exit codes."""
import re

import pytest

from tests.differential.harness import Pair
from tests.test_entrypoints import DOC_INDENT


def blocks(text: str) -> dict:
    """``{group: {distribution name: [entry lines]}}`` of a group listing.

    Distributions are keyed by lower-case name without version (the two
    sides install PasteScript 3.7.0 and 4.x); description lines (indented)
    are left out.
    """
    result: dict = {}
    group = dist = None
    for line in text.splitlines():
        if re.fullmatch(r"\[[^\]]+\]", line):
            group, dist = line[1:-1], None
            result[group] = {}
        elif group is not None and re.fullmatch(r"\S+ \S+", line) and " = " not in line:
            dist = line.split()[0].lower()
            result[group][dist] = []
        elif dist is not None and " = " in line and not line.startswith(" "):
            result[group][dist].append(line)
    return result


def shared(listing: dict) -> dict:
    """Only the distributions both sides have."""
    return {group: {dist: lines for dist, lines in dists.items()
                    if dist in ("pastescript", "pasteapiprobe")}
            for group, dists in listing.items()}


def test_pattern_is_a_suffix_search_listing_both_command_groups(probe_pair: Pair):
    old, new = probe_pair.run("points", "paster_command")
    assert old.returncode == new.returncode == 0
    assert list(blocks(new.stdout)) == list(blocks(old.stdout)) == [
        "paste.global_paster_command", "paste.paster_command"]
    assert shared(blocks(new.stdout)) == shared(blocks(old.stdout))
    assert "api-probe = api_probe.commands:ProbeCommand" in \
        blocks(new.stdout)["paste.global_paster_command"]["pasteapiprobe"]


def test_name_pattern_finds_wsgiutils(pair: Pair):
    old, new = pair.run("points", "paste.server_runner", "utils")
    assert old.returncode == new.returncode == 0
    assert blocks(new.stdout) == blocks(old.stdout) == {
        "paste.server_runner": {"pastescript": ["wsgiutils = paste.script.wsgiutils_server:run_server"]}}


@pytest.mark.parametrize("args", [
    ["api_probe.widgets"],
    ["WIDGETS"],                          # case-insensitive
    ["widgets", "a*"],                    # name pattern, searched
    ["--regex", "widgets$", "^.a"],
    ["gadgets"],                          # generic description, and the description group
    ["--list", "api_probe*"],
    ["-e", "PasteApiProbe", "widgets"],
    ["--egg", "egg:PasteApiProbe", "gadgets", "spin"],
])
def test_probe_groups_identical(probe_pair: Pair, args):
    old, new = probe_pair.run("points", *args)
    assert (old.returncode, old.stderr) == (0, "")
    assert (new.returncode, new.stderr) == (0, "")
    assert new.stdout == old.stdout
    assert new.stdout.strip()


def test_descriptions_of_the_probe_widgets(probe_pair: Pair):
    # Descriptions wrap at $COLUMNS (70 without it, as in 3.7): the text below is at 70.
    old, new = probe_pair.run("points", "api_probe.widgets", env={"COLUMNS": "70"})
    assert new.stdout == old.stdout
    assert new.stdout == (
        "[api_probe.widgets]\n"
        "Widgets that the probe plugin declares, to see how paster points\n"
        "describes a group and its entry points.\n"
        "\n"
        "pasteapiprobe 0.3\n"
        "alpha = api_probe.widgets:Alpha\n"
        "    Alpha, described by its own paste.description entry point.\n"
        "beta_utils = api_probe.widgets:make_beta\n"
        "    (global_conf, **settings)\n"
        "    \n"
        "    Make a beta widget.\n"
        "    \n"
        f"    {DOC_INDENT}It has settings.\n"
        "gamma = api_probe.widgets:Gamma\n"
        "    (self, /, *args, **kwargs)\n"
        # the description group's name ends with the pattern too
        "[paste.description.api_probe.widgets]\n"
        "pasteapiprobe 0.3\n"
        "alpha = api_probe.desc:AlphaDescription\n"
        "    (self, /, *args, **kwargs)\n")


def test_egg_listing_has_the_same_entry_points(probe_pair: Pair):
    old, new = probe_pair.run("points", "--egg", "PasteApiProbe")
    assert old.returncode == new.returncode == 0

    def entries(text):
        return [line for line in text.splitlines() if not line.startswith(" ")]
    assert entries(new.stdout) == entries(old.stdout)


def test_list_counts_the_same_groups_for_the_probe(probe_pair: Pair):
    old, new = probe_pair.run("points", "--list")
    assert old.returncode == new.returncode == 0
    groups_old = set(re.findall(r"^\[(.+)\]$", old.stdout, re.M))
    groups_new = set(re.findall(r"^\[(.+)\]$", new.stdout, re.M))
    assert re.match(rf"{len(groups_new)} entry point groups found:\n", new.stdout)
    probe = {"api_probe.widgets", "api_probe.gadgets", "paste.app_install",
             "paste.global_paster_command", "paste.paster_command",
             "paste.paster_create_template", "paste.entry_point_description"}
    assert probe <= groups_old and probe <= groups_new
    # description groups only with a pattern
    assert not any(g.startswith("paste.description.") for g in groups_old | groups_new)


@pytest.mark.parametrize("args, message", [
    ([], "You must give an entry point (or --list)"),
    (["no.such.group"], "No group matched no.such.group"),
    (["paste"], "No group matched paste"),   # a pattern must match the end of a name
])
def test_usage_errors_exit_2(pair: Pair, args, message):
    old, new = pair.run("points", *args)
    assert old.returncode == new.returncode == 2
    assert old.stdout.strip() == message
    assert new.stderr.strip() == message  # ours prints errors on stderr


@pytest.mark.parametrize("args", [["--egg", "NoSuchEgg"], ["--regex", "("]])
def test_where_37_fails_with_a_traceback(pair: Pair, args):
    # Documented difference: 3.7 shows a traceback (DistributionNotFound,
    # re.error); ours one line and exit status 2.
    old, new = pair.run("points", *args)
    assert old.returncode == 1 and "Traceback" in old.stderr
    assert new.returncode == 2 and len(new.stderr.splitlines()) == 1
    assert "Traceback" not in new.stderr
