"""orders, their lines and the outbox

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.shared.db import Timestamp
from services.shared.migrations import create_outbox

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_cents", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id", "created_at"])
    op.create_index("ix_orders_created", "orders", ["created_at"])
    op.create_index("ix_orders_status", "orders", ["status", "created_at"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("product_id", sa.String(36), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger, nullable=True),
    )
    create_outbox(op)


def downgrade() -> None:
    for table in ("outbox", "order_lines", "orders"):
        op.drop_table(table)
