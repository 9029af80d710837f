import os

from api_probe import show


def setup_app(command, conf, vars):
    show("websetup filename", os.path.relpath(conf.filename))
    show("websetup local_conf", dict(conf.local_conf))
    show("websetup global_conf keys", sorted(conf.global_conf))
    show("websetup simulate", command.simulate)
    show("websetup verbose", command.verbose)
    show("websetup vars", vars)
