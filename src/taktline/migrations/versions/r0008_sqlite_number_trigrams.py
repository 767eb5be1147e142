"""SQLite: trigram indexes of work order and production order numbers

`q` of digits alone (`4321`) may match anywhere in a number (WO-0143215). PostgreSQL finds it
in the trigram indexes of r0001 (pg_trgm); SQLite has no such index type, and scanned every
number of the organisation. Its FTS5 trigram tokenizer (SQLite 3.34 and later) is the same
idea: a virtual table per kind of number, holding each number and the id of its record, kept
by triggers, which answers `number LIKE '%4321%'` from its index (`orders.reading`). Numbers
never change and records are never deleted (DELETED is a state), so only the insert trigger
ever runs; the others keep the index true should a row change anyway.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:30:00
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The table of records, and the index of their numbers (orders.reading.number_trigrams;
# taktline.migrate leaves tables named trgm_* to the migrations).
NUMBERED = (
    ("work_orders", "trgm_work_order_numbers"),
    ("production_orders", "trgm_production_order_numbers"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, index in NUMBERED:
        op.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5(number, record_id UNINDEXED, "
            "tokenize = 'trigram')"
        )
        op.execute(f"INSERT INTO {index} (number, record_id) SELECT number, id FROM {table}")
        op.execute(
            f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {index} (number, record_id) VALUES (new.number, new.id); END"
        )
        op.execute(
            f"CREATE TRIGGER {index}_update AFTER UPDATE OF number, id ON {table} BEGIN "
            f"UPDATE {index} SET number = new.number, record_id = new.id "
            "WHERE record_id = old.id; END"
        )
        op.execute(
            f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM {index} WHERE record_id = old.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for _, index in NUMBERED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {index}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {index}")
