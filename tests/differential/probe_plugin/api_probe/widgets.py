class Alpha:
    """The first widget."""

    def __init__(self, size, colour="red"):
        self.size, self.colour = size, colour


def make_beta(global_conf, **settings):
    """Make a beta widget.

    It has settings.
    """


class Gamma:
    pass


def make_filter(global_conf, **settings):
    """A filter that changes nothing (for pipelines in setup-app tests)."""
    return lambda app: app
