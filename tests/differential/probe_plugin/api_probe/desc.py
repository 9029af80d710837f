from paste.script.entrypoints import EntryPointDescription


class WidgetsDescription:
    description = """
    Widgets that the probe plugin declares, to see how paster points
    describes a group and its entry points.
    """


class AlphaDescription:
    description = "Alpha, described by its own paste.description entry point."


class GadgetDescription(EntryPointDescription):
    def __init__(self, ep, group):
        super().__init__(group)
        self.description = f"Gadget {ep.name} of {self.group}, described generically."
