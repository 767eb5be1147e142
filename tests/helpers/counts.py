"""Row counts of every table: for tests that check a refused request changed nothing."""

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from taktline.models import Base


def db_counts(source: Session | Engine | Connection) -> dict[str, int]:
    """{table name: row count} for every table of the models, in one query.

    Given a Session or an Engine, it counts on a connection of its own, closed at once, so
    it sees what is committed and holds no lock (on SQLite every transaction takes the write
    lock at BEGIN; see taktline.db). Given a Connection, it counts on that connection.
    """
    tables = Base.metadata.sorted_tables
    query = select(
        *(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
    )
    if isinstance(source, Connection):
        return dict(source.execute(query).one()._mapping)
    engine = source.get_bind() if isinstance(source, Session) else source
    if isinstance(engine, Connection):  # a session bound to a connection
        return dict(engine.execute(query).one()._mapping)
    with engine.connect() as connection:
        return dict(connection.execute(query).one()._mapping)
