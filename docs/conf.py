"""Sphinx configuration for flask-webchat."""

import json
from pathlib import Path

import flask_webchat
from flask_webchat.web.openapi import build_spec

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


def _write_openapi_pages() -> None:
    """Generate the OpenAPI document and its table of operations from the code, at every build."""
    here = Path(__file__).parent
    spec = build_spec("/chat")
    (here / "_static" / "openapi.json").write_text(json.dumps(spec, indent=2) + "\n")
    header = ("Route", "What", "Answers")
    rows = [header]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            statuses = ", ".join(str(status) for status in operation["responses"])
            rows.append((f"``{method.upper()} {path}``", operation["summary"], statuses))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    rule = "  ".join("=" * width for width in widths)
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines = [rule, lines[0], rule, *lines[1:]]
    (here / "_generated_operations.rst").write_text("\n".join([*lines, rule]) + "\n")


_write_openapi_pages()
exclude_patterns.append("_generated_operations.rst")  # included by http.rst, not a page
