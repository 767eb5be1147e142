"""lot code counters: the last `{n}` of an item's lot codes on a day, claimed apart from
the transaction that makes the lot

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 21:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lot_code_counters",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        # no foreign keys: see LotCodeCounter
        sa.PrimaryKeyConstraint("org_id", "item_id", "day", name=op.f("pk_lot_code_counters")),
    )


def downgrade() -> None:
    op.drop_table("lot_code_counters")
