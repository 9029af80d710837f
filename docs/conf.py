# Sphinx configuration for the PasteScript documentation.
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "PasteScript"
author = "Ian Bicking and the PasteScript contributors"
copyright = "2005-2026, " + author
from paste.script import __version__ as release  # noqa: E402

version = ".".join(release.split(".")[:2])
extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build", "example_template/**"]
master_doc = "index"
html_theme = "alabaster"
