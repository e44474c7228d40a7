"""The ``flask webchat`` command group."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .models import metadata

webchat_group = AppGroup("webchat", help="Manage the chat's database tables.")


@webchat_group.command("create-tables")
def create_tables() -> None:
    """Create the chat's tables in the app's database, leaving existing ones alone."""
    engine = current_app.extensions["webchat"].db.engine
    metadata.create_all(engine, checkfirst=True)
    click.echo(f"Chat tables ready: {', '.join(sorted(metadata.tables))}.")
