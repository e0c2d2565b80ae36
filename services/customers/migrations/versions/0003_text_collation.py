"""text compares by Unicode 5.2 weights: characters outside the Basic Multilingual Plane (emoji)
are told apart (services.shared.migrations.TEXT_COLLATION)

Revision ID: 0003
"""

from alembic import op

from services.shared.migrations import use_text_collation

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    use_text_collation(op)


def downgrade() -> None:
    pass  # the earlier collation confused distinct keys: never go back to it
