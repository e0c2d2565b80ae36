"""customers and the outbox

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
        "customers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_customers_created", "customers", ["created_at", "id"])
    create_outbox(op)


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("customers")
