"""when each notification was stored, for the inbox followers of several replicas

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.shared.db import Timestamp

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("notifications", sa.Column("stored_at", Timestamp, nullable=True))
    op.create_index("ix_notifications_user_stored", "notifications", ["user_id", "stored_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_user_stored", "notifications")
    op.drop_column("notifications", "stored_at")
