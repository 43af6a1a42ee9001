"""The auth function through its real Lambda entry point, with API Gateway HTTP API (payload 2.0) events, on SQLite
and PostgreSQL, AWS (the signing key secret, the uploads bucket) from a moto server built from template.yaml."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from labfolio_common.auth.keys import signing_key
from labfolio_common.auth.tokens import TokenClaims, issue_token
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Account, AuthSession, utcnow
from labfolio_common.settings import get_settings
from sqlalchemy import func, select

from tests.fixtures.auth import PASSWORD, AuthClient

pytestmark = pytest.mark.functional


@pytest.fixture
def client(lambda_env: Any, lambda_context: Any) -> AuthClient:
    return AuthClient(lambda_context)


def token_of(answer: Any) -> str:
    return str(answer.body["access_token"])


def sessions_of(database_url: str, user_id: str) -> list[AuthSession]:
    with session_scope(database_url) as db:
        return list(db.scalars(select(AuthSession).where(AuthSession.user_id == uuid.UUID(user_id))))


# ----------------------------------------------------------------------------------------------- sign-up


def test_signup_creates_the_account_and_a_session(client: AuthClient, database_url: str) -> None:
    answer = client.signup("ada.lovelace")
    assert answer.body["username"] == "ada.lovelace"
    assert answer.body["token_type"] == "bearer" and answer.body["expires_in"] == 3600
    uuid.UUID(answer.body["user_id"])
    assert client.me(token_of(answer)).status == 200
    (session,) = sessions_of(database_url, answer.body["user_id"])
    assert session.revoked_at is None
    assert timedelta(days=6) < session.expires_at - session.created_at <= timedelta(days=7)


@pytest.mark.real_password_hash
def test_signup_stores_an_argon2id_hash_never_the_password(client: AuthClient, database_url: str) -> None:
    client.signup("hasher", "a very secret passphrase")
    with session_scope(database_url) as db:
        stored = db.scalars(select(Account.password_hash).where(Account.username == "hasher")).one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=2,p=1$")
    assert "a very secret passphrase" not in stored


def test_signup_sets_a_strict_httponly_secure_cookie(client: AuthClient) -> None:
    answer = client.signup("cookie.monster")
    (line,) = answer.cookies
    attributes = {part.strip().split("=")[0].lower() for part in line.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in line.lower() and "path=/api" in line.lower()
    assert answer.cookie("labfolio_session") == token_of(answer)


def test_cookie_is_not_secure_on_127_0_0_1(client: AuthClient) -> None:
    answer = client.request(
        "POST",
        "/api/auth/signup",
        {"username": "local.user", "password": PASSWORD},
        headers={"host": "127.0.0.1:8000"},
    )
    assert answer.status == 201
    (line,) = answer.cookies
    assert "secure" not in line.lower() and "httponly" in line.lower()


@pytest.mark.parametrize("taken", ["Alice", "ALICE", "aLiCe"])
def test_usernames_are_unique_ignoring_case(client: AuthClient, taken: str) -> None:
    client.signup("alice")
    answer = client.request("POST", "/api/auth/signup", {"username": taken, "password": PASSWORD})
    assert answer.status == 409
    assert answer.body == {"error": "conflict", "detail": "username already taken"}


def test_login_and_me_fold_the_case_but_keep_the_name_as_given(client: AuthClient) -> None:
    client.signup("Grace.Hopper")
    answer = client.login("GRACE.HOPPER")
    assert answer.status == 200
    assert answer.body["username"] == "Grace.Hopper"
    assert client.me(token_of(answer)).body["username"] == "Grace.Hopper"


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("ab", PASSWORD, "body.username"),
        ("x" * 65, PASSWORD, "body.username"),
        ("with space", PASSWORD, "body.username"),
        ("émile", PASSWORD, "body.username"),
        ("robert'); DROP TABLE accounts;--", PASSWORD, "body.username"),
        ("short.pw", "123456789", "body.password"),
        ("long.pw", "x" * 257, "body.password"),
        ("Same.As.Name", "same.as.NAME", "body.password"),
    ],
)
def test_signup_refuses_names_and_passwords_that_break_the_rules(
    client: AuthClient, username: str, password: str, field: str
) -> None:
    answer = client.request("POST", "/api/auth/signup", {"username": username, "password": password})
    assert answer.status == 422
    assert answer.body["error"] == "validation_error"
    assert [p["field"] for p in answer.body["detail"]] == [field]


def test_signup_accepts_the_longest_and_shortest_allowed(client: AuthClient) -> None:
    assert client.request("POST", "/api/auth/signup", {"username": "abc", "password": "p" * 10}).status == 201
    assert client.request("POST", "/api/auth/signup", {"username": "z" * 64, "password": "q" * 256}).status == 201


# ----------------------------------------------------------------------------------------------- login


def test_login_answers_a_bearer_token_with_the_four_claims(client: AuthClient) -> None:
    user_id = client.signup("turing").body["user_id"]
    answer = client.login("turing")
    assert answer.status == 200
    assert set(answer.body) == {"user_id", "username", "access_token", "token_type", "expires_in"}
    header = jwt.get_unverified_header(token_of(answer))
    claims = jwt.decode(token_of(answer), options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert set(claims) == {"sub", "sid", "iat", "exp"}
    assert claims["sub"] == user_id
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert answer.cookie("labfolio_session") == token_of(answer)


def test_each_login_is_a_session_of_its_own(client: AuthClient, database_url: str) -> None:
    user_id = client.signup("multi").body["user_id"]
    first, second = client.login("multi"), client.login("multi")
    sids = {jwt.decode(token_of(a), options={"verify_signature": False})["sid"] for a in (first, second)}
    assert len(sids) == 2
    assert len(sessions_of(database_url, user_id)) == 3


def test_wrong_password_and_unknown_user_get_the_same_answer(client: AuthClient) -> None:
    client.signup("known")
    wrong_password = client.login("known", "not the password")
    unknown_user = client.login("nobody.here", "not the password")
    assert wrong_password.status == unknown_user.status == 401
    assert wrong_password.body == unknown_user.body == {"error": "unauthorized", "detail": "wrong username or password"}
    assert wrong_password.cookies == unknown_user.cookies == []


@pytest.mark.real_password_hash
def test_wrong_password_and_unknown_user_cost_the_same_argon2_verification(
    client: AuthClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timing is measured in `make bench` (bench/auth.py); here the mechanism: both paths verify exactly one argon2id
    # hash with the same cost parameters, so neither the message nor the time tells which usernames exist.
    from labfolio_common.auth import passwords

    client.signup("timed")
    real, verified = passwords._hasher, []

    class CountingHasher:
        def verify(self, password_hash: str, password: str) -> bool:
            verified.append(password_hash.split("$")[3])  # "m=65536,t=2,p=1"
            return real.verify(password_hash, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    for username in ("timed", "untimed"):
        assert client.login(username, "not the password", source_ip=str(uuid.uuid4())).status == 401
    assert len(verified) == 2
    assert (
        verified[0] == verified[1] == f"m={passwords.MEMORY_COST_KIB},t={passwords.TIME_COST},p={passwords.PARALLELISM}"
    )


def test_login_needs_a_json_body(client: AuthClient) -> None:
    client.signup("formpost")
    # what a cross-site HTML form can send: not JSON, so no login CSRF
    form = client.request(
        "POST",
        "/api/auth/login",
        raw_body="username=formpost&password=correct+horse+battery",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    plain = client.request(
        "POST",
        "/api/auth/login",
        raw_body=json.dumps({"username": "formpost", "password": PASSWORD}),
        headers={"content-type": "text/plain"},
    )
    assert (form.status, plain.status) == (422, 422)


# ----------------------------------------------------------------------------------------------- me and tokens


def test_me_answers_who_is_asking(client: AuthClient) -> None:
    signed = client.signup("whoami")
    answer = client.me(token_of(signed))
    assert answer.status == 200
    assert answer.body["user_id"] == signed.body["user_id"] and answer.body["username"] == "whoami"
    assert answer.body["created_at"].endswith("Z")


def test_me_without_credentials_is_401_with_a_bearer_challenge(client: AuthClient) -> None:
    answer = client.request("GET", "/api/auth/me")
    assert answer.status == 401
    assert answer.body["error"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"


def _forge(claims: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(valid: str, key: bytes) -> dict[str, str]:
    claims = jwt.decode(valid, key, algorithms=["HS256"])
    header, payload, signature = valid.split(".")
    now = int(time.time())
    other_user = {**claims, "sub": str(uuid.uuid4())}
    return {
        "tampered payload": f"{header}.{_b64(other_user)}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "expired": _forge({**claims, "iat": now - 7200, "exp": now - 3600}, key),
        "wrong key": _forge(claims, b"k" * 64),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg none with a signature": f"{_b64({'alg': 'none'})}.{payload}.{signature}",
        "HS512": _forge(claims, key, alg="HS512"),
        "no sid": _forge({k: v for k, v in claims.items() if k != "sid"}, key),
        "no exp": _forge({k: v for k, v in claims.items() if k != "exp"}, key),
        "unknown session": _forge({**claims, "sid": str(uuid.uuid4())}, key),
        "sub not a uuid": _forge({**claims, "sub": "' OR 1=1 --"}, key),
        "another user's session": _forge(other_user, key),
        "garbage": "not.a.token",
        "empty segments": "..",
        "oversized": "a" * 10_000,
    }


def test_bad_tokens_are_401(client: AuthClient) -> None:
    valid = token_of(client.signup("target"))
    key = signing_key(get_settings())
    for name, token in bad_tokens(valid, key).items():
        answer = client.me(token)
        assert answer.status == 401, name
        assert answer.body["error"] == "unauthorized", name
    assert client.me(valid).status == 200


def test_a_token_signed_with_the_right_key_but_expired_is_401(client: AuthClient) -> None:
    signed = client.signup("expiring")
    claims = jwt.decode(token_of(signed), options={"verify_signature": False})
    past = utcnow() - timedelta(hours=2)
    token = issue_token(
        signing_key(get_settings()),
        TokenClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), past, past + timedelta(hours=1)),
    )
    assert client.me(token).status == 401


def test_an_expired_session_is_401_even_with_an_unexpired_token(client: AuthClient, database_url: str) -> None:
    signed = client.signup("aged")
    with session_scope(database_url) as db:
        for session in db.scalars(select(AuthSession)):
            session.expires_at = utcnow() - timedelta(seconds=1)
    assert client.me(token_of(signed)).status == 401


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer"])
def test_authorization_other_than_a_bearer_token_is_401(client: AuthClient, header: str) -> None:
    signed = client.signup("schemes")
    answer = client.request(
        "GET", "/api/auth/me", headers={"authorization": header}, cookie=signed.cookie("labfolio_session")
    )
    assert answer.status == 401  # Authorization wins when present, even over a valid cookie


def test_bearer_wins_over_the_cookie(client: AuthClient) -> None:
    alice, bob = client.signup("alice.b"), client.signup("bob.b")
    answer = client.request("GET", "/api/auth/me", token=token_of(bob), cookie=alice.cookie("labfolio_session"))
    assert answer.body["username"] == "bob.b"
    invalid = client.request("GET", "/api/auth/me", token="x.y.z", cookie=alice.cookie("labfolio_session"))
    assert invalid.status == 401


# ----------------------------------------------------------------------------------------------- cookie + CSRF


def test_cookie_reads_need_no_csrf_header(client: AuthClient) -> None:
    cookie = client.signup("reader").cookie("labfolio_session")
    assert client.request("GET", "/api/auth/me", cookie=cookie).status == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/auth/refresh", None),
        ("POST", "/api/auth/logout", None),
        ("POST", "/api/auth/password", {"current_password": PASSWORD, "new_password": "another passphrase"}),
        ("DELETE", "/api/auth/me", {"password": PASSWORD}),
    ],
)
def test_cookie_changes_without_the_csrf_header_are_403(client: AuthClient, method: str, path: str, body: Any) -> None:
    signed = client.signup("csrf.victim")
    cookie = signed.cookie("labfolio_session")
    refused = client.request(method, path, body, cookie=cookie)
    wrong_value = client.request(method, path, body, cookie=cookie, headers={"x-requested-with": "fetch"})
    assert (refused.status, wrong_value.status) == (403, 403)
    assert refused.body["error"] == "forbidden" and "X-Requested-With" in refused.body["detail"]
    assert client.me(token_of(signed)).status == 200  # nothing happened
    allowed = client.request(method, path, body, cookie=cookie, csrf=True)
    assert allowed.status in (200, 204)


def test_bearer_changes_need_no_csrf_header(client: AuthClient) -> None:
    token = token_of(client.signup("api.client"))
    assert client.request("POST", "/api/auth/refresh", token=token).status == 200


# ----------------------------------------------------------------------------------------------- refresh, logout


def test_refresh_gives_a_new_token_and_the_old_one_keeps_working(client: AuthClient) -> None:
    old = token_of(client.signup("refresher"))
    time.sleep(1.05)  # a later iat, so the new token differs
    answer = client.request("POST", "/api/auth/refresh", token=old)
    assert answer.status == 200
    new = token_of(answer)
    assert new != old and answer.cookie("labfolio_session") == new
    old_claims, new_claims = (jwt.decode(t, options={"verify_signature": False}) for t in (old, new))
    assert new_claims["sid"] == old_claims["sid"] and new_claims["iat"] > old_claims["iat"]
    assert client.me(old).status == client.me(new).status == 200


def test_refresh_never_outlives_the_session(client: AuthClient, database_url: str) -> None:
    token = token_of(client.signup("short.lived"))
    with session_scope(database_url) as db:
        for session in db.scalars(select(AuthSession)):
            session.expires_at = utcnow() + timedelta(minutes=5)
    answer = client.request("POST", "/api/auth/refresh", token=token)
    assert answer.status == 200
    assert 200 < answer.body["expires_in"] <= 300


def test_logout_ends_the_session_for_every_token_of_it(client: AuthClient) -> None:
    old = token_of(client.signup("leaver"))
    refreshed = token_of(client.request("POST", "/api/auth/refresh", token=old))
    other = token_of(client.login("leaver"))
    answer = client.request("POST", "/api/auth/logout", token=old)
    assert answer.status == 204 and answer.body is None
    cleared = answer.cookies[0].lower()
    assert cleared.startswith("labfolio_session=") and "max-age=0" in cleared
    assert client.me(old).status == client.me(refreshed).status == 401
    assert client.request("POST", "/api/auth/refresh", token=old).status == 401
    assert client.request("POST", "/api/auth/logout", token=old).status == 401
    assert client.me(other).status == 200  # another session of the same account


def test_logout_works_across_instances(client: AuthClient, database_url: str) -> None:
    """Revocation lives in the database: a session revoked there is refused by a warm instance."""
    token = token_of(client.signup("everywhere"))
    assert client.me(token).status == 200
    with session_scope(database_url) as db:
        for session in db.scalars(select(AuthSession)):
            session.revoked_at = utcnow()
    assert client.me(token).status == 401


# ----------------------------------------------------------------------------------------------- password


def test_password_change_ends_every_other_session(client: AuthClient) -> None:
    here = token_of(client.signup("changer"))
    elsewhere = token_of(client.login("changer"))
    body = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    answer = client.request("POST", "/api/auth/password", body, token=here)
    assert answer.status == 204
    assert client.me(here).status == 200
    assert client.me(elsewhere).status == 401
    assert client.login("changer").status == 401
    assert client.login("changer", "a brand new passphrase").status == 200


def test_password_change_with_a_wrong_current_password_is_403(client: AuthClient) -> None:
    token = token_of(client.signup("forgetful"))
    body = {"current_password": "not the password", "new_password": "a brand new passphrase"}
    answer = client.request("POST", "/api/auth/password", body, token=token)
    assert answer.status == 403 and answer.body == {"error": "forbidden", "detail": "wrong password"}
    assert client.login("forgetful").status == 200


@pytest.mark.parametrize("new_password", ["short", "x" * 257, "Rule.Breaker", "\ud800 lone surrogate"])
def test_password_change_applies_the_password_rules(client: AuthClient, new_password: str) -> None:
    token = token_of(client.signup("rule.breaker"))
    body = {"current_password": PASSWORD, "new_password": new_password}
    answer = client.request("POST", "/api/auth/password", body, token=token)
    assert answer.status == 422
    assert [p["field"] for p in answer.body["detail"]] == ["body.new_password"]
    assert client.login("rule.breaker").status == 200


# ----------------------------------------------------------------------------------------------- throttling


def _age_throttle_state(database_url: str, by: timedelta) -> None:
    """What 15 minutes of waiting does: every failure and lockout moves into the past."""
    from labfolio_common.db.models import LoginFailure, LoginLockout

    with session_scope(database_url) as db:
        for failure in db.scalars(select(LoginFailure)):
            failure.failed_at -= by
        for lockout in db.scalars(select(LoginLockout)):
            lockout.locked_until -= by


def test_five_failures_lock_the_account_even_for_the_right_password(client: AuthClient, database_url: str) -> None:
    client.signup("locked.out")
    for attempt in range(5):
        assert client.login("Locked.Out", f"guess number {attempt}", source_ip=f"198.51.100.{attempt}").status == 401
    answer = client.login("locked.out", source_ip="198.51.100.99")
    assert answer.status == 429
    assert answer.body["error"] == "too_many_requests"
    assert 890 <= int(answer.headers["retry-after"]) <= 900
    # another account is not affected
    client.signup("bystander")
    assert client.login("bystander").status == 200
    # the cool-down: 15 minutes later the right password works again
    _age_throttle_state(database_url, timedelta(minutes=15, seconds=1))
    assert client.login("locked.out").status == 200


def test_unknown_accounts_are_throttled_alike(client: AuthClient) -> None:
    for attempt in range(5):
        assert client.login("ghost.user", f"guess {attempt}", source_ip=f"198.51.100.{attempt}").status == 401
    assert client.login("ghost.user", "guess 6", source_ip="198.51.100.77").status == 429


def test_failures_older_than_the_window_do_not_count(client: AuthClient, database_url: str) -> None:
    client.signup("slow.guesser")
    for attempt in range(4):
        assert client.login("slow.guesser", f"guess {attempt}").status == 401
    _age_throttle_state(database_url, timedelta(minutes=16))
    for attempt in range(4):
        assert client.login("slow.guesser", f"guess again {attempt}").status == 401
    assert client.login("slow.guesser").status == 200


def test_a_successful_login_forgets_the_account_failures(client: AuthClient) -> None:
    client.signup("typo.prone")
    for _ in range(2):
        for attempt in range(4):
            assert client.login("typo.prone", f"typo {attempt}").status == 401
        assert client.login("typo.prone").status == 200


def test_failures_from_one_address_lock_that_address(
    client: AuthClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGIN_ADDRESS_MAX_FAILURES", "6")  # 50 by default; the limit is a setting
    get_settings.cache_clear()
    client.signup("victim.one")
    for attempt in range(6):
        assert client.login(f"sprayed.{attempt}", "password spray", source_ip="192.0.2.66").status == 401
    assert client.login("victim.one", source_ip="192.0.2.66").status == 429
    assert client.login("victim.one", source_ip="192.0.2.67").status == 200
    _age_throttle_state(database_url, timedelta(minutes=15, seconds=1))
    assert client.login("victim.one", source_ip="192.0.2.66").status == 200


def test_throttle_uses_api_gateways_source_ip_not_x_forwarded_for(client: AuthClient) -> None:
    client.signup("spoofer.target")
    for attempt in range(5):
        spoofed = {"x-forwarded-for": f"10.0.0.{attempt}"}
        client.login(f"someone.{attempt}", "bad", source_ip="192.0.2.10", headers=spoofed)
    from labfolio_common.auth.throttle import digest
    from labfolio_common.db.models import LoginFailure

    with session_scope(get_settings().database_url) as db:
        subjects = set(db.scalars(select(LoginFailure.subject).where(LoginFailure.scope == "address")))
    # the failures count against the address API Gateway saw, never against the forwarded ones
    assert digest("address", "192.0.2.10") in subjects
    assert not subjects & {digest("address", f"10.0.0.{attempt}") for attempt in range(5)}


def test_wrong_current_passwords_count_as_failed_logins(client: AuthClient) -> None:
    token = token_of(client.signup("stolen.session"))
    body = {"current_password": "guess", "new_password": "a brand new passphrase"}
    for _ in range(5):
        assert client.request("POST", "/api/auth/password", body, token=token).status == 403
    assert client.request("POST", "/api/auth/password", body, token=token).status == 429
    assert client.login("stolen.session").status == 429


def test_throttle_state_stores_digests_not_what_was_typed(client: AuthClient, database_url: str) -> None:
    client.login("typed.name", "typed password", source_ip="192.0.2.200")
    from labfolio_common.db.models import LoginFailure

    with session_scope(database_url) as db:
        rows = [(f.scope, f.subject) for f in db.scalars(select(LoginFailure))]
    assert sorted(scope for scope, _ in rows) == ["account", "address"]
    dumped = json.dumps(rows)
    assert "typed" not in dumped and "192.0.2.200" not in dumped


# ----------------------------------------------------------------------------------------------- logs


def test_passwords_and_tokens_never_reach_the_logs(client: AuthClient, capsys: pytest.CaptureFixture[str]) -> None:
    signed = client.signup("quiet.one", "secret-passphrase-123")
    token = token_of(signed)
    client.login("quiet.one", "wrong-passphrase-456")
    client.login("quiet.one", "secret-passphrase-123")
    client.request("POST", "/api/auth/refresh", token=token)
    client.request(
        "POST",
        "/api/auth/password",
        {"current_password": "secret-passphrase-123", "new_password": "newer-passphrase-789"},
        token=token,
    )
    out = capsys.readouterr()
    logs = out.out + out.err
    for secret in ("secret-passphrase-123", "wrong-passphrase-456", "newer-passphrase-789", token, token.split(".")[2]):
        assert secret not in logs


def test_account_count_is_unchanged_by_failed_signups(client: AuthClient, database_url: str) -> None:
    client.signup("only.one")
    client.request("POST", "/api/auth/signup", {"username": "ONLY.ONE", "password": PASSWORD})
    client.request("POST", "/api/auth/signup", {"username": "x", "password": PASSWORD})
    with session_scope(database_url) as db:
        assert db.scalar(select(func.count()).select_from(Account)) == 1


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/auth/password"), ("DELETE", "/api/auth/me")])
@pytest.mark.parametrize("raw_body", ['{"password": ', "not json", '{"unexpected": 1}'])
def test_no_session_is_401_before_the_body_is_judged(client: AuthClient, method: str, path: str, raw_body: str) -> None:
    # DESIGN.md §6: 401 -> 404 -> 422, whatever the body
    answer = client.request(method, path, raw_body=raw_body, headers={"content-type": "application/json"})
    assert answer.status == 401


def test_a_malformed_body_with_a_session_is_422_naming_the_field(client: AuthClient) -> None:
    token = token_of(client.signup("bodycheck"))
    answer = client.request(
        "POST",
        "/api/auth/password",
        raw_body='{"current_password": "x"}',
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert answer.status == 422
    assert [p["field"] for p in answer.body["detail"]] == ["body.new_password"]


def test_behind_cloudfront_the_throttle_counts_the_viewer_not_the_edge(
    client: AuthClient, lambda_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the distribution (its origin verification secret and the viewer address its function writes), the
    failures count against each viewer: one attacker behind an edge server does not lock out the others there."""

    import boto3
    from labfolio_common.auth.throttle import digest
    from labfolio_common.auth.viewer import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
    from labfolio_common.db.models import LoginFailure

    # the auth function's own environment from template.yaml (OriginVerifySecret, created in moto)
    variables = lambda_env.model.template["Resources"]["AuthFunction"]["Properties"]["Environment"]["Variables"]
    arn = str(lambda_env.resolver.resolve(variables)["ORIGIN_VERIFY_SECRET_ARN"])
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET_ARN", arn)
    get_settings.cache_clear()
    token = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    edge = "130.176.1.10"
    for attempt in range(3):
        headers = {VIEWER_ADDRESS_HEADER: f"198.51.100.{attempt}", ORIGIN_VERIFY_HEADER: token}
        assert client.login(f"nobody.{attempt}", "bad", source_ip=edge, headers=headers).status == 401
    forged = {VIEWER_ADDRESS_HEADER: "198.51.100.99", ORIGIN_VERIFY_HEADER: "not-the-secret" * 4}
    assert client.login("nobody.forged", "bad", source_ip=edge, headers=forged).status == 401
    with session_scope(get_settings().database_url) as db:
        subjects = set(db.scalars(select(LoginFailure.subject).where(LoginFailure.scope == "address")))
    assert {digest("address", f"198.51.100.{attempt}") for attempt in range(3)} <= subjects
    assert digest("address", "198.51.100.99") not in subjects  # a forged viewer address is not believed...
    assert digest("address", edge) in subjects  # ...the request counts against the address API Gateway saw
