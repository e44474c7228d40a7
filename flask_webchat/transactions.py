"""How the chat uses the host's database session: reads without a transaction, waits without a
connection, writes that commit and then announce.

The host owns ``db.session``. The chat borrows it for writes, each one transaction that commits
(see :func:`flask_webchat.rooms.commit_event`), and leaves the host's objects alone when it only
reads: a read needs no transaction, since the room head bounds it and a compare-and-set moves a
stream, statement by statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, scoped_session


def current(session: Session) -> Session:
    """The request's own ``Session`` behind Flask-SQLAlchemy's ``scoped_session``."""
    return session() if isinstance(session, scoped_session) else session


@contextmanager
def reading(session: Session) -> Iterator[Session]:
    """The session a read uses: its own, in autocommit mode, unless the host's is busy.

    Without a transaction, each statement is a single round trip to the database, instead of
    ``BEGIN``, the statement and ``ROLLBACK``, which makes an empty poll about twice as cheap.
    The read uses a short-lived session of its own for that, so the host's session, and every
    object the host loaded with it, stays as it was. When the host has already begun a
    transaction in this request (Flask-SQLAlchemy sessions, say), the read joins it instead and
    adds no connection.
    """
    host = current(session)
    if host.in_transaction():
        yield host
        return
    reader = Session(bind=host.get_bind(), expire_on_commit=False)
    try:
        reader.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield reader
    finally:
        reader.close()


def release_connection(session: Session) -> None:
    """Hand the host session's connection back to the pool before a request waits.

    A waiting request must hold no connection: a pool sized for short requests would run dry
    with a few hundred waiting readers. The host's session is in a transaction when the host
    read something in this request (its user, say); that transaction is committed, as the
    chat's writes do, and the host's objects load again if used.
    """
    host = current(session)
    if host.in_transaction():
        host.commit()
