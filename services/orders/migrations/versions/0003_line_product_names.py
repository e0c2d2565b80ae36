"""order lines keep the product's name and seller as they were when the stock was reserved

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("order_lines", sa.Column("product_name", sa.String(200), nullable=True))
    op.add_column("order_lines", sa.Column("seller_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("order_lines", "seller_id")
    op.drop_column("order_lines", "product_name")
