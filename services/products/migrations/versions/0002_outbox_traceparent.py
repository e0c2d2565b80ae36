"""the outbox keeps each event's traceparent

Revision ID: 0002
"""

from alembic import op

from services.shared.migrations import add_outbox_traceparent

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    add_outbox_traceparent(op)


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
