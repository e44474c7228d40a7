"""Alembic migrations of the chat's tables, for hosts that manage their schema with Flask-Migrate.

The chat ships its migrations as an Alembic *branch* of its own, labelled ``webchat``, in the
:data:`VERSIONS` folder of the installed package. A host adds that folder to its Alembic version
locations, so its database records the chat's revisions next to its own, and each release of the
chat that changes its tables adds a revision to the branch. Three hooks connect the branch to a
Flask-Migrate host, without editing the generated ``env.py``::

    from flask_migrate import Migrate
    from flask_webchat import migrations as chat_migrations

    migrate = Migrate(
        include_name=chat_migrations.include_name,
        process_revision_directives=chat_migrations.process_revision_directives,
    )
    migrate.configure(chat_migrations.add_version_location)

Then ``flask db upgrade heads`` brings both branches up to date. See the "Migrations" page of the
documentation for the whole procedure, including hosts that do not use Flask-Migrate.

The module imports Alembic only inside the hooks, which run within the host's Alembic commands.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..models import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext

__all__ = [
    "BRANCH",
    "VERSIONS",
    "add_version_location",
    "include_name",
    "process_revision_directives",
]

#: The folder of the chat's Alembic revision scripts, inside the installed package.
VERSIONS: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "versions")
#: Branch label of the chat's revisions: ``flask db upgrade webchat@head``,
#: ``flask db downgrade webchat@base``.
BRANCH = "webchat"

# Alembic's names for the characters that separate the paths of ``version_locations``.
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
# Flask-Migrate's env.py reports through this logger, which its alembic.ini shows at INFO.
_log = logging.getLogger("alembic.env")


def add_version_location(config: Config) -> Config:
    """Add :data:`VERSIONS` to the host's ``version_locations``: a Flask-Migrate configure callback.

    Keeps the locations the host's ``alembic.ini`` names, or Alembic's default ``versions`` folder
    of the migration repository when it names none. The path is computed at every command rather
    than written into ``alembic.ini`` because it points into the installed package, which is
    somewhere else in every virtualenv.
    """
    chosen = next(
        (
            config.get_main_option(name)
            for name in ("path_separator", "version_path_separator")
            if config.get_main_option(name)
        ),
        None,
    )
    current = config.get_main_option("version_locations")
    if chosen is not None:
        separator = _SEPARATORS[chosen]
    elif current:
        separator = " "  # Alembic's legacy splitting, which the host's list already relies on
    else:
        # path_separator is read by Alembic 1.16 and later, version_path_separator before it.
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_path_separator", "os")
        separator = os.pathsep
    if current:
        locations = [location.strip() for location in current.split(separator) if location.strip()]
    else:
        script_location = config.get_main_option("script_location") or ""
        locations = [os.path.join(script_location, "versions")]
    if not any(_same_folder(location, VERSIONS) for location in locations):
        locations.append(VERSIONS)
    # The value goes through ConfigParser interpolation, where "%" starts a reference.
    config.set_main_option("version_locations", separator.join(locations).replace("%", "%%"))
    return config


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Keep the chat's tables out of the host's ``flask db migrate``: pass as ``include_name``.

    The host's autogenerate compares the database with the host's own metadata, where the chat's
    tables are not, so it would write a ``drop_table`` for each of them. Their schema belongs to
    the ``webchat`` branch instead.
    """
    return not (type_ == "table" and name in metadata.tables)


def process_revision_directives(
    context: MigrationContext,
    revision: Any,
    directives: list[MigrationScript],
) -> None:
    """Base the host's new revisions on its own head: pass as ``process_revision_directives``.

    With the chat's branch installed the repository has two heads, and Alembic would refuse a
    plain ``flask db migrate`` ("Multiple heads are present"), or, while the host has no
    revision yet, write the host's first one into the chat's branch and into the installed
    package. This puts the new revision after the host's single head, or starts the host's own
    branch in the host's migrations folder. A ``--head`` given on the command line is kept.

    Like the hook of Flask-Migrate's ``env.py``, which this one replaces, it also drops an
    autogenerated revision that would change nothing.
    """
    autogenerate = getattr(getattr(context.config, "cmd_opts", None), "autogenerate", False)
    if autogenerate and directives and all(o.is_empty() for o in directives[0].upgrade_ops_list):
        directives[:] = []
        _log.info("No changes in schema detected.")
        return
    scripts = context.script
    if scripts is None or not directives or directives[0].head != "head":
        return
    script = directives[0]
    own_heads = [
        head
        for head in scripts.get_heads()
        if BRANCH not in (scripts.get_revision(head).branch_labels or ())
    ]
    if len(own_heads) == 1:
        script.head = own_heads[0]
    elif not own_heads:
        script.head = "base"
        if script.version_path is None:
            own_locations = [
                location
                for location in scripts.version_locations or ()
                if not _same_folder(location, VERSIONS)
            ]
            if own_locations:
                script.version_path = own_locations[0]
    # Several heads of the host's own: Alembic asks the host to choose, as it would without the
    # chat.


def _same_folder(location: str, folder: str) -> bool:
    """Whether a ``version_locations`` entry (a path or a ``package:folder``) is *folder*."""
    # Imported here: this module is documented and imported where Alembic is not installed.
    from alembic.util import coerce_resource_to_filename

    resolved = os.path.realpath(coerce_resource_to_filename(location))
    return os.path.normcase(resolved) == os.path.normcase(os.path.realpath(folder))
