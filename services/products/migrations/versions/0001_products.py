"""products, stock reservations and the outbox

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
        "products",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("seller_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("deleted_at", Timestamp, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
        sa.CheckConstraint("price_cents >= 1", name="ck_products_price_positive"),
    )
    op.create_index("ix_products_listing", "products", ["deleted_at", "created_at"])
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("order_id", sa.String(36), sa.ForeignKey("reservations.order_id"), primary_key=True),
        sa.Column("product_id", sa.String(36), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger, nullable=False),
    )
    create_outbox(op)


def downgrade() -> None:
    for table in ("outbox", "reservation_lines", "reservations", "products"):
        op.drop_table(table)
