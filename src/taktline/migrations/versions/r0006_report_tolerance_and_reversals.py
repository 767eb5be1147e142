"""over-production tolerance of an organisation; line item reports, reversed by reversals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import taktline.db

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "over_production_tolerance_percent",
                taktline.db.Quantity(precision=24, scale=6),
                server_default="0",
                nullable=False,
            )
        )
    op.create_table(
        "line_item_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("work_order_id", sa.Uuid(), nullable=False),
        sa.Column("line_item_id", sa.Uuid(), nullable=False),
        sa.Column(
            "quantity_completed", taktline.db.Quantity(precision=24, scale=6), nullable=False
        ),
        sa.Column("quantity_scrapped", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=True),
        sa.Column("at", taktline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_line_item_reports_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["work_order_line_items.id"],
            name=op.f("fk_line_item_reports_line_item_id_work_order_line_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_line_item_reports_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["line_item_reports.id"],
            name=op.f("fk_line_item_reports_reverses_id_line_item_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_line_item_reports_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_item_reports")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_line_item_reports_reverses_id")),
    )
    with op.batch_alter_table("line_item_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_line_item_reports_work_order", ["work_order_id", "at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_line_item_reports_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("line_item_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_item_reports_org_id"))
        batch_op.drop_index("ix_line_item_reports_work_order")
    op.drop_table("line_item_reports")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("over_production_tolerance_percent")
