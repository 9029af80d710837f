"""A plugin that prints what the PasteScript API gives it (see setup.py)."""


def show(label, value):
    """One line of the report: the label and the repr of the value."""
    print(f"{label}: {value!r}")
