"""Project templates for ``paster create -t example_wsgi``."""
