"""orders keep when they were settled: a repeated Idempotency-Key's answer is rebuilt from the
order (its first answer: the order as settled, even after a cancel changed it)

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

from services.shared.db import Timestamp

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("orders", sa.Column("settled_at", Timestamp, nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "settled_at")
