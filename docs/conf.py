"""Sphinx configuration for flask-webchat."""

import flask_webchat

project = "flask-webchat"
copyright = "2026, the flask-webchat authors"
release = flask_webchat.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_type_aliases = {
    "IdentityLoader": "flask_webchat.identity.IdentityLoader",
    "DeletePermission": "flask_webchat.identity.DeletePermission",
}
intersphinx_mapping = {}
nitpicky = False

html_theme = "furo"
html_title = f"flask-webchat {release}"
html_static_path = ["_static"]
exclude_patterns = ["_build"]
