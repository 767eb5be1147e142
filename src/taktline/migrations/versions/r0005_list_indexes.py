"""indexes for every list filter at a year of work orders

Lists page by id; each walk of a list (one per state) runs down an index that yields its
rows in id order, with the columns it filters on inside the index; the planned window gets
an index that finds overlapping windows directly (GiST on PostgreSQL, from btree_gist of
the first revision; on SQLite a b-tree from the end of the window, besides the one from its
start); number prefixes an index that serves LIKE 'WO-0123%' in any collation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence
from typing import Any

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PATTERN = {"number": "varchar_pattern_ops"}

# (name, table, columns before, columns after, options after); None: no index before.
CHANGES: list[tuple[str, str, list[str] | None, list[str], dict[str, Any]]] = [
    (
        "ix_work_orders_org_state",
        "work_orders",
        ["org_id", "state", "id"],
        ["org_id", "state", "id", "due_date"],
        {},
    ),
    (
        "ix_work_orders_org_item",
        "work_orders",
        ["org_id", "item_id", "id"],
        ["org_id", "item_id", "state", "id"],
        {},
    ),
    (
        "ix_work_orders_org_planned",
        "work_orders",
        ["org_id", "planned_start", "planned_end"],
        ["org_id", "planned_start", "planned_end", "state", "id"],
        {},
    ),
    (
        "ix_work_orders_org_window",
        "work_orders",
        None,
        ["org_id", "planned_end", "planned_start", "state"],
        {"postgresql_using": "gist", "postgresql_include": ["id"]},
    ),
    (
        "ix_work_orders_org_number",
        "work_orders",
        None,
        ["org_id", "number"],
        {"postgresql_ops": PATTERN},
    ),
    (
        "ix_production_orders_org_state",
        "production_orders",
        ["org_id", "state", "id"],
        ["org_id", "state", "id", "due_date"],
        {},
    ),
    (
        "ix_production_orders_org_owner",
        "production_orders",
        ["org_id", "owner_id", "id"],
        ["org_id", "owner_id", "state", "id"],
        {},
    ),
    (
        "ix_production_orders_org_number",
        "production_orders",
        None,
        ["org_id", "number"],
        {"postgresql_ops": PATTERN},
    ),
    (
        "ix_production_order_items_org_item",
        "production_order_items",
        None,
        ["org_id", "item_id", "production_order_id"],
        {},
    ),
]


def upgrade() -> None:
    for name, table, before, after, options in CHANGES:
        if before is not None:
            op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False, **options)


def downgrade() -> None:
    for name, table, before, _after, _options in reversed(CHANGES):
        op.drop_index(name, table_name=table)
        if before is not None:
            op.create_index(name, table, before, unique=False)
