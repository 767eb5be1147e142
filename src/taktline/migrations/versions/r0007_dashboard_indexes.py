"""indexes of the dashboard at scale: work orders counted by state, open work judged late

The counts by state walk the narrowest index there can be, (organisation, state); late and
at risk are judged and ranked inside a partial index of the open work orders alone, which
carries every column they read (`orders.models.WorkOrder`; SQLite takes it for queries that
write the same condition, `scheduling.bottlenecks.open_sql`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('DRAFT', 'IN_PROCESS', 'SCHEDULED')"


def upgrade() -> None:
    op.create_index("ix_work_orders_org_state_count", "work_orders", ["org_id", "state"])
    op.create_index(
        "ix_work_orders_open",
        "work_orders",
        [
            "org_id",
            "due_date",
            "planned_end",
            "planned_start",
            "state",
            "priority",
            "number",
            "id",
        ],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_work_orders_open", table_name="work_orders")
    op.drop_index("ix_work_orders_org_state_count", table_name="work_orders")
