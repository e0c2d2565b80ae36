"""a FULLTEXT index on product names, for the catalogue's search (GET /api/products?q=), and
one for a seller's own listing (?seller_id=, the storefront's "Sell" page)

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"

INDEX = "ix_products_name_search"
SELLER_INDEX = "ix_products_seller_listing"


def upgrade() -> None:
    op.create_index(SELLER_INDEX, "products", ["seller_id", "deleted_at", "created_at"])
    # MariaDB only: SQLite (the unit tests' database) has no FULLTEXT index, and the search
    # (service.page with `q`) runs against MariaDB alone.
    if op.get_bind().dialect.name != "mysql":
        return
    # InnoDB fixes the stopword list of a FULLTEXT index when the index is created. Its default
    # list drops words like "the", "in" and "for", and a search that requires one of them
    # ("The Fifth Element") would then find nothing: this index keeps every word.
    op.execute("SET SESSION innodb_ft_enable_stopword = OFF")
    op.create_index(INDEX, "products", ["name"], mysql_prefix="FULLTEXT")


def downgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        op.drop_index(INDEX, table_name="products")
    op.drop_index(SELLER_INDEX, table_name="products")
