"""The catalogue's search by name (GET /api/products?q=) and a seller's own listing (?seller_id=),
on MariaDB's FULLTEXT index (products migration 0003)."""

import uuid

from harness.shop import api, create_product, register
from harness.system import System


def test_a_search_finds_names_with_a_word_starting_with_each_word_asked(system: System) -> None:
    seller, tag = register(), uuid.uuid4().hex[:10]
    lantern = create_product(seller, name=f"The Brass Lantern {tag}")
    create_product(seller, name=f"Brass kettle {tag}")
    create_product(seller, name=f"Lantern oil {uuid.uuid4().hex[:10]}")  # not this tag

    def found(q: str) -> list[str]:
        response = api("GET", "/products", params={"q": q})
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert found(f"lant {tag}") == [lantern["name"]]
    assert found(f"{tag} brass lantern") == [lantern["name"]]
    assert found(f"the {tag}") == [lantern["name"]]  # "the" is indexed: no stopword list
    assert sorted(found(f"BRASS {tag}")) == sorted([lantern["name"], f"Brass kettle {tag}"])
    assert found(f"lantern {tag} nothing") == []
    # Search operators are words to it, never operators (InnoDB boolean mode).
    assert found(f'-brass "{tag}" lan*') == [lantern["name"]]


def test_a_search_is_bounded_and_needs_a_word_the_index_holds(system: System) -> None:
    too_short = api("GET", "/products", params={"q": "tv"})
    assert (too_short.status_code, too_short.json()["code"]) == (422, "search_too_short")
    assert api("GET", "/products", params={"q": "x" * 101}).status_code == 422
    assert api("GET", "/products", params={"q": ""}).status_code == 422


def test_a_sellers_listing_holds_their_products_alone(system: System) -> None:
    seller, other = register(), register()
    mine = [create_product(seller, name=f"Mine {i}")["id"] for i in range(2)]
    create_product(other, name="Not mine")

    listing = api("GET", "/products", params={"seller_id": seller.id}).json()

    assert [item["id"] for item in listing["items"]] == mine[::-1]  # newest first
    assert listing["total"] == 2
