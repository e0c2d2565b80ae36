from alembic import context

from services.shared.migrations import run_migrations

run_migrations(context)
