"""Registration, login and the caller's profile, through the gateway."""

import hashlib
import json
import time

import jwt

from harness.shop import admin, api, register, unique_email, view_knows
from harness.system import ROOT, System, invoke, secret
from harness.waiting import wait_until
from services.auth.service import customer_id_for


def test_registering_creates_a_customer_and_never_returns_the_password(system: System) -> None:
    email = unique_email("alice")
    response = api(
        "POST", "/auth/register", json={"email": email, "password": "s3cret-passw0rd", "name": "Alice"}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "name", "role", "created_at"}
    assert (body["email"], body["name"], body["role"]) == (email, "Alice", "customer")
    assert "s3cret-passw0rd" not in response.text
    wait_until(
        lambda: view_knows("customer", body["id"]), timeout=10, what="customer.registered at the subscriber"
    )


def test_an_email_registers_once(system: System) -> None:
    user = register()
    response = api(
        "POST", "/auth/register", json={"email": user.email, "password": "another-password", "name": "X"}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


def test_registration_input_is_validated(system: System) -> None:
    cases = [
        {"email": unique_email(), "password": "short", "name": "A"},
        {"email": unique_email(), "password": "x" * 129, "name": "A"},
        {"email": "not-an-email", "password": "long-enough", "name": "A"},
        {"email": unique_email(), "password": "long-enough", "name": ""},
        {"email": unique_email(), "password": "long-enough", "name": "A" * 101},
        {"email": unique_email(), "password": "long-enough", "name": "A", "role": "admin"},
    ]
    for body in cases:
        response = api("POST", "/auth/register", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"


def test_login_returns_a_bearer_token_and_rejects_wrong_credentials(system: System) -> None:
    user = register()
    good = api("POST", "/auth/login", json={"email": user.email, "password": user.password})
    wrong = api("POST", "/auth/login", json={"email": user.email, "password": "wrong-password"})
    unknown = api("POST", "/auth/login", json={"email": unique_email(), "password": user.password})

    assert good.status_code == 200
    assert good.json()["token_type"] == "bearer"
    assert good.json()["expires_in"] > 0
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_credentials")


def test_me_shows_and_renames_the_callers_profile(system: System) -> None:
    user = register("Before")
    renamed = user.call("PATCH", "/me", json={"name": "After"})
    me = user.call("GET", "/me")

    assert renamed.status_code == 200
    assert me.json()["name"] == "After"
    assert me.json()["id"] == user.id
    assert me.json()["role"] == "customer"
    wait_until(
        lambda: view_knows("customer", user.id, 2), timeout=10, what="customer.updated at the subscriber"
    )


def test_the_role_cannot_be_changed_through_the_profile(system: System) -> None:
    user = register()
    response = user.call("PATCH", "/me", json={"name": "Eve", "role": "admin"})

    assert response.status_code == 422
    assert user.call("GET", "/me").json()["role"] == "customer"


def _token(key: str, **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "x",
        "role": "admin",
        "iat": now,
        "exp": now + 60,
        "iss": "dapr-shop-auth",
        "aud": "dapr-shop",
    }
    return jwt.encode({**claims, **overrides}, key, algorithm="HS256")


def test_a_missing_bad_or_expired_token_is_401(system: System) -> None:
    key = json.loads((ROOT / ".run/secrets.json").read_text())["jwt-signing-key"]
    user = register()
    tokens = {
        "missing": None,
        "garbage": "not.a.jwt",
        "wrong key": _token("another-key-of-the-same-length-0123456789", sub=user.id),
        "expired": _token(key, sub=user.id, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "wrong audience": _token(key, sub=user.id, aud="elsewhere"),
    }
    for name, token in tokens.items():
        response = api("GET", "/me", token=token)
        assert response.status_code == 401, name
        assert response.json()["code"] in {"unauthorized", "invalid_token"}, name


def test_a_customer_token_on_an_admin_action_is_403(system: System) -> None:
    customer = register()
    forbidden = customer.call("GET", "/admin/customers")
    allowed = admin().call("GET", "/admin/customers", params={"limit": 5})

    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    assert allowed.status_code == 200
    assert allowed.json()["total"] >= 1


def test_the_admin_account_comes_from_the_secret_store(system: System) -> None:
    me = admin().call("GET", "/me").json()
    assert me["role"] == "admin"


def test_a_registration_cut_off_after_the_profile_was_made_completes_when_tried_again(system: System) -> None:
    """auth creates the customer, then stores the credentials; if it stops in between (or the
    answer from customers is lost), the email must not be stuck: the customer id comes from the
    email, so the retry finds the profile it made and stores the credentials."""
    email = unique_email("cut")
    key = hashlib.sha256(b"customer-id:" + secret("jwt-signing-key").encode()).digest()
    customer_id = customer_id_for(email, key=key)
    # The first attempt's first step, as auth makes it, and nothing after it.
    status, _ = invoke(
        "customers", "POST", "customers", json={"id": customer_id, "email": email, "name": "Cut"}, via="auth"
    )
    assert status == 201

    retried = api(
        "POST", "/auth/register", json={"email": email, "password": "a-good-password", "name": "Cut"}
    )

    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == customer_id
    token = api("POST", "/auth/login", json={"email": email, "password": "a-good-password"})
    assert token.status_code == 200
    again = api(
        "POST", "/auth/register", json={"email": email, "password": "another-password", "name": "Cut"}
    )
    assert again.status_code == 409
