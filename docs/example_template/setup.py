from setuptools import find_packages, setup

setup(
    name="ExampleTemplates",
    version="1.0",
    description="A paster create template for a small WSGI application",
    packages=find_packages(),
    # The template directories are data, not Python packages: ship them all.
    package_data={"example_templates": ["templates/**/*"]},
    install_requires=["PasteScript"],
    entry_points="""
    [paste.paster_create_template]
    example_wsgi = example_templates.wsgi:WsgiAppTemplate
    """,
)
