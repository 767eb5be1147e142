"""bills of material: BOMs, their versions, inputs and routings; items' precision and unit
conversions; work orders' BOM version and material requirements

SQLite: the work orders' new column and its foreign key are added by ALTER TABLE ... ADD
COLUMN ... REFERENCES, not by copying the table (batch mode), which would drop the triggers
that keep the trigram index of numbers (r0008).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import taktline.db
import taktline.items.models

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "boms",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "FORMULA",
                "PACKAGING",
                "SECONDARY_PACKAGING",
                "KIT",
                name="bomtype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", taktline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", taktline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_boms_item_id_items")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_boms_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["customers.id"], name=op.f("fk_boms_owner_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boms")),
        sa.UniqueConstraint("org_id", "code", name=op.f("uq_boms_org_id_code")),
    )
    with op.batch_alter_table("boms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_boms_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_boms_org_item", ["org_id", "item_id"], unique=False)
        batch_op.create_index("ix_boms_org_owner", ["org_id", "owner_id"], unique=False)
        batch_op.create_index("ix_boms_org_type", ["org_id", "type"], unique=False)

    op.create_table(
        "bom_versions",
        sa.Column("bom_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT", "ACTIVE", "RETIRED", name="versionstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("batch_quantity", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.Column("batch_unit", sa.String(length=32), nullable=False),
        sa.Column(
            "output_loss_percent", taktline.db.Quantity(precision=24, scale=6), nullable=False
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("activated_at", taktline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", taktline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", taktline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", taktline.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "batch_quantity > 0", name=op.f("ck_bom_versions_batch_quantity_positive")
        ),
        sa.CheckConstraint(
            "output_loss_percent >= 0", name=op.f("ck_bom_versions_output_loss_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["bom_id"], ["boms.id"], name=op.f("fk_bom_versions_bom_id_boms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_bom_versions_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_versions")),
        sa.UniqueConstraint("bom_id", "number", name=op.f("uq_bom_versions_bom_id_number")),
    )
    with op.batch_alter_table("bom_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bom_versions_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_bom_versions_org_status", ["org_id", "status"], unique=False)
        batch_op.create_index(
            "ux_bom_versions_one_active",
            ["bom_id"],
            unique=True,
            sqlite_where=sa.text("status = 'ACTIVE'"),
            postgresql_where=sa.text("status = 'ACTIVE'"),
        )

    op.create_table(
        "bom_inputs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("loss_percent", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.CheckConstraint("loss_percent >= 0", name=op.f("ck_bom_inputs_loss_not_negative")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_bom_inputs_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_bom_inputs_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bom_inputs_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["bom_versions.id"],
            name=op.f("fk_bom_inputs_version_id_bom_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_inputs")),
        sa.UniqueConstraint(
            "version_id", "position", name=op.f("uq_bom_inputs_version_id_position")
        ),
    )
    with op.batch_alter_table("bom_inputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bom_inputs_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_bom_inputs_org_item", ["org_id", "item_id"], unique=False)

    op.create_table(
        "bom_operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("setup_minutes", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.Column(
            "run_minutes_per_unit", taktline.db.Quantity(precision=24, scale=6), nullable=False
        ),
        sa.Column("interruptible", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "run_minutes_per_unit >= 0", name=op.f("ck_bom_operations_run_minutes_not_negative")
        ),
        sa.CheckConstraint(
            "setup_minutes >= 0", name=op.f("ck_bom_operations_setup_minutes_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bom_operations_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resources.id"], name=op.f("fk_bom_operations_resource_id_resources")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["bom_versions.id"],
            name=op.f("fk_bom_operations_version_id_bom_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_operations")),
        sa.UniqueConstraint(
            "version_id", "sequence", name=op.f("uq_bom_operations_version_id_sequence")
        ),
    )
    with op.batch_alter_table("bom_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bom_operations_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_bom_operations_resource", ["resource_id"], unique=False)

    op.create_table(
        "bom_operation_alternatives",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("setup_minutes", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.Column(
            "run_minutes_per_unit", taktline.db.Quantity(precision=24, scale=6), nullable=False
        ),
        sa.CheckConstraint(
            "run_minutes_per_unit >= 0",
            name=op.f("ck_bom_operation_alternatives_run_minutes_not_negative"),
        ),
        sa.CheckConstraint(
            "setup_minutes >= 0",
            name=op.f("ck_bom_operation_alternatives_setup_minutes_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["bom_operations.id"],
            name=op.f("fk_bom_operation_alternatives_operation_id_bom_operations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_bom_operation_alternatives_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_bom_operation_alternatives_resource_id_resources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_operation_alternatives")),
        sa.UniqueConstraint(
            "operation_id",
            "resource_id",
            name=op.f("uq_bom_operation_alternatives_operation_id_resource_id"),
        ),
    )
    with op.batch_alter_table("bom_operation_alternatives", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bom_operation_alternatives_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "work_order_materials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("work_order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", taktline.db.Quantity(precision=24, scale=6), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("bom_input_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("ck_work_order_materials_quantity_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["bom_input_id"],
            ["bom_inputs.id"],
            name=op.f("fk_work_order_materials_bom_input_id_bom_inputs"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_work_order_materials_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_work_order_materials_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_materials_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_materials")),
        sa.UniqueConstraint(
            "work_order_id", "position", name=op.f("uq_work_order_materials_work_order_id_position")
        ),
    )
    with op.batch_alter_table("work_order_materials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_order_materials_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            "ix_work_order_materials_org_item", ["org_id", "item_id"], unique=False
        )

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("precision", sa.Integer(), server_default="6", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "conversions",
                taktline.items.models.UnitConversions(),
                server_default="[]",
                nullable=False,
            )
        )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE work_orders ADD COLUMN bom_version_id CHAR(32) "
            "CONSTRAINT fk_work_orders_bom_version_id_bom_versions REFERENCES bom_versions (id)"
        )
    else:
        op.add_column("work_orders", sa.Column("bom_version_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            "fk_work_orders_bom_version_id_bom_versions",
            "work_orders",
            "bom_versions",
            ["bom_version_id"],
            ["id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column that has a foreign key only by copying the table: keep the
        # triggers of r0008 that the copy would lose.
        op.execute("ALTER TABLE work_orders DROP COLUMN bom_version_id")
    else:
        op.drop_constraint(
            "fk_work_orders_bom_version_id_bom_versions", "work_orders", type_="foreignkey"
        )
        op.drop_column("work_orders", "bom_version_id")

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("conversions")
        batch_op.drop_column("precision")

    with op.batch_alter_table("work_order_materials", schema=None) as batch_op:
        batch_op.drop_index("ix_work_order_materials_org_item")
        batch_op.drop_index(batch_op.f("ix_work_order_materials_org_id"))

    op.drop_table("work_order_materials")
    with op.batch_alter_table("bom_operation_alternatives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bom_operation_alternatives_org_id"))

    op.drop_table("bom_operation_alternatives")
    with op.batch_alter_table("bom_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_bom_operations_resource")
        batch_op.drop_index(batch_op.f("ix_bom_operations_org_id"))

    op.drop_table("bom_operations")
    with op.batch_alter_table("bom_inputs", schema=None) as batch_op:
        batch_op.drop_index("ix_bom_inputs_org_item")
        batch_op.drop_index(batch_op.f("ix_bom_inputs_org_id"))

    op.drop_table("bom_inputs")
    with op.batch_alter_table("bom_versions", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_bom_versions_one_active",
            sqlite_where=sa.text("status = 'ACTIVE'"),
            postgresql_where=sa.text("status = 'ACTIVE'"),
        )
        batch_op.drop_index("ix_bom_versions_org_status")
        batch_op.drop_index(batch_op.f("ix_bom_versions_org_id"))

    op.drop_table("bom_versions")
    with op.batch_alter_table("boms", schema=None) as batch_op:
        batch_op.drop_index("ix_boms_org_type")
        batch_op.drop_index("ix_boms_org_owner")
        batch_op.drop_index("ix_boms_org_item")
        batch_op.drop_index(batch_op.f("ix_boms_org_id"))

    op.drop_table("boms")
