"""How the chat uses the host's database session: reads without a transaction, waits without a
connection, writes that commit and then announce.

The host owns ``db.session``. The chat borrows it for writes, each one transaction that commits
(see :func:`flask_webchat.rooms.commit_event`), and leaves the host's objects alone when it only
reads: a read needs no transaction, since the room head bounds it and a compare-and-set moves a
stream, statement by statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session


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
    """Hand the host session's connection back to the pool before a request reads and waits.

    A waiting request must hold no connection: a pool sized for short requests would run dry
    with a few hundred waiting readers. Its read must also see the database as it is now, not
    as a transaction begun earlier in the request saw it (MySQL and MariaDB fix a
    transaction's view at its first read). The host's session is in a transaction when the host
    read something in this request (its user, say); that transaction is committed, as the
    chat's writes do, and the host's objects load again if used.
    """
    host = current(session)
    if host.in_transaction():
        host.commit()


# Callbacks waiting for the host's transaction, in ``session.info`` (one list per session).
_PENDING = "webchat_pending"
_READY = "webchat_ready"


def after_host_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the host's current transaction commits; never if it rolls back.

    For writes that join the host's transaction (see
    :meth:`flask_webchat.Webchat.post_message`). A savepoint that rolls back drops what was
    registered inside it. The callback runs when the transaction has ended, so it may use the
    session again (in a new transaction of its own).
    """
    host = current(session)
    if _PENDING not in host.info:
        host.info[_PENDING], host.info[_READY] = [], []
        event.listen(host, "after_commit", _committed)
        event.listen(host, "after_soft_rollback", _rolled_back)
        event.listen(host, "after_transaction_end", _ended)
    transaction = host.get_nested_transaction() or host.get_transaction()
    host.info[_PENDING].append((transaction, callback))


def _committed(session: Session) -> None:
    # Only SQL-free work may happen here: the session is between transactions.
    session.info[_READY].extend(callback for _, callback in session.info[_PENDING])
    session.info[_PENDING].clear()


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    _drop_inside(session, previous)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    # Still pending when the whole transaction ends: it was closed without a commit.
    _drop_inside(session, transaction)
    if not session.info[_READY]:
        return
    ready = list(session.info[_READY])
    session.info[_READY].clear()
    for callback in ready:
        callback()


def _drop_inside(session: Session, ended: SessionTransaction) -> None:
    """Forget the callbacks registered in ``ended`` or in a savepoint within it."""

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is ended:
                return True
            transaction = transaction.parent
        return False

    pending = session.info[_PENDING]
    pending[:] = [(tx, callback) for tx, callback in pending if not inside(tx)]


def rows_changed(result: Result[Any]) -> int:
    """How many rows an ``UPDATE`` or ``DELETE`` that ``Session.execute`` ran changed."""
    return cast(CursorResult[Any], result).rowcount


def inserted_id(result: Result[Any]) -> int:
    """The primary key of the one row an ``INSERT`` that ``Session.execute`` ran added."""
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None  # an INSERT of one row
    return int(key[0])
