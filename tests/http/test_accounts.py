"""Accounts (issue 18): roles, invitations, per-user sign-in, sessions with their own id and CSRF
token, API tokens with scopes, the audit log, and JSON routes refusing other media types (415).
Against the whole application in this process, on its real SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from headwater.accounts.roles import ADMIN_TOKEN_USER
from headwater.http.auth import SESSION_COOKIE
from tests.http.asgi import ADMIN, TOKEN, Running, run

EXPERIMENT = {
    "key": "checkout",
    "variations": ["control", "b"],
    "metrics": {"primary": {"key": "bought", "kind": "conversion", "event": "Order Completed"}},
}
PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_session(session: str, csrf: str = "", **headers: str) -> dict[str, str]:
    """The headers of the dashboard page's requests: its session cookie and, to change things, the
    CSRF token (and the Origin a browser adds)."""
    out = {"Cookie": f"{SESSION_COOKIE}={session}", **headers}
    if csrf:
        out |= {"X-CSRF-Token": csrf, "Origin": "http://headwater.test"}
    return out


async def invite(c: httpx.AsyncClient, email: str, role: str, headers: dict[str, str] = ADMIN) -> str:
    answer = await c.post("/api/v1/users", json={"email": email, "role": role}, headers=headers)
    assert answer.status_code == 201, answer.text
    link = answer.json()["link"]
    assert link.startswith("/dashboard/invite?invitation=hwi_")
    return str(answer.json()["invitation"])


async def accept(c: httpx.AsyncClient, invitation: str, password: str = PASSWORD) -> httpx.Response:
    page = await c.get("/dashboard/invite", params={"invitation": invitation})
    assert page.status_code == 200, page.text
    form = {"invitation": invitation, "password": password, "confirm": password}
    return await c.post("/dashboard/invite", data=form)


async def sign_in(c: httpx.AsyncClient, email: str, password: str = PASSWORD) -> tuple[str, str]:
    """(session cookie, CSRF token of the page)."""
    c.cookies.clear()
    answer = await c.post("/dashboard/login", data={"email": email, "password": password})
    assert answer.status_code == 303, answer.text[:300]
    session = answer.cookies[SESSION_COOKIE]
    page = await c.get("/dashboard/", headers=as_session(session))
    csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    c.cookies.clear()
    return session, csrf


def test_an_invited_user_signs_in_with_a_password_kept_as_argon2id(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        invitation = await invite(c, "Ann@Example.com", "analyst")
        accepted = await accept(c, invitation)
        assert accepted.status_code == 303 and accepted.cookies[SESSION_COOKIE].startswith("hws_")
        again = await c.post("/dashboard/invite", data={"invitation": invitation, "password": "x" * 20})
        assert again.status_code == 404  # an invitation works once
        mismatch = await accept(c, await invite(c, "bob@example.com", "viewer"), password="short")
        assert mismatch.status_code == 400 and "12 characters" in mismatch.text
        session, _ = await sign_in(c, "ann@example.com")
        me = (await c.get("/api/v1/me", headers=as_session(session))).json()
        assert me["email"] == "ann@example.com" and me["role"] == "analyst" and me["via"] == "session"
        assert "admin" not in me["permissions"] and "experiments" in me["permissions"]
        wrong = await c.post("/dashboard/login", data={"email": "ann@example.com", "password": "nope" * 4})
        assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
        unknown = await c.post("/dashboard/login", data={"email": "zed@example.com", "password": PASSWORD})
        assert unknown.status_code == 401 and "Wrong email or password" in unknown.text
        db = sqlite3.connect(hw.settings.data_dir / "realtime.sqlite3")
        (stored,) = db.execute("SELECT password_hash FROM users WHERE email = 'ann@example.com'").fetchone()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        sessions = [r[0] for r in db.execute("SELECT id_hash FROM sessions")]
        assert session not in sessions and all(len(s) == 64 for s in sessions)  # only hashes
        # signing out ends the session on the server: the old cookie is worth nothing after
        out = await c.post("/dashboard/logout", headers=as_session(session))
        assert out.status_code == 303
        assert (await c.get("/api/v1/me", headers=as_session(session))).status_code == 401

    run(tmp_path, scenario)


def test_roles_decide_what_each_user_may_do(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        viewer = await c.post("/api/v1/tokens", json={"name": "v", "scopes": ["read"]}, headers=ADMIN)
        assert viewer.status_code == 201  # the admin token's owner makes tokens too
        people = {"vi@example.com": "viewer", "an@example.com": "analyst", "ad@example.com": "admin"}
        for email, role in people.items():
            await accept(c, await invite(c, email, role))
        c.cookies.clear()
        tokens = {}
        for email in people:
            session, csrf = await sign_in(c, email)
            made = await c.post(
                "/api/v1/tokens", json={"name": "mine", "scopes": ["read"]}, headers=as_session(session, csrf)
            )
            assert made.status_code == 201, made.text
            tokens[email] = made.json()["token"]
        vi_t, an_t, ad_t = (bearer(tokens[e]) for e in people)
        # a read-scoped token reads, whatever its user's role
        for h in (vi_t, an_t, ad_t):
            assert (await c.get("/api/v1/metrics", headers=h)).status_code == 200
            created = await c.post("/api/v1/experiments", json=EXPERIMENT, headers=h)
            assert created.status_code == 403 and "experiments" in created.json()["error"]["message"]
        # scopes within the role: an analyst's token may manage experiments, a viewer's may not exist
        an = as_session(*await sign_in(c, "an@example.com"))
        wide = await c.post(
            "/api/v1/tokens", json={"name": "w", "scopes": ["experiments", "read"]}, headers=an
        )
        assert wide.status_code == 201
        analyst = bearer(wide.json()["token"])
        assert (await c.post("/api/v1/experiments", json=EXPERIMENT, headers=analyst)).status_code == 201
        assert (await c.post("/api/v1/experiments/checkout/start", headers=analyst)).status_code == 200
        admin_scope = await c.post("/api/v1/tokens", json={"name": "a", "scopes": ["admin"]}, headers=an)
        assert admin_scope.status_code == 403
        vi_page = as_session(*await sign_in(c, "vi@example.com"))
        escalate = await c.post(
            "/api/v1/tokens", json={"name": "x", "scopes": ["experiments"]}, headers=vi_page
        )
        assert escalate.status_code == 403
        # users and the audit log: owners and admins only; an admin makes no owner
        assert (await c.get("/api/v1/users", headers=analyst)).status_code == 403
        assert (await c.get("/api/v1/audit", headers=analyst)).status_code == 403
        ad = as_session(*await sign_in(c, "ad@example.com"))
        owner = await c.post("/api/v1/users", json={"email": "o@example.com", "role": "owner"}, headers=ad)
        assert owner.status_code == 403
        viewer_made = await c.post(
            "/api/v1/users", json={"email": "v2@example.com", "role": "viewer"}, headers=ad
        )
        assert viewer_made.status_code == 201
        # disabling a user stops their tokens at once; so does revoking one
        disabled = await c.patch("/api/v1/users/an@example.com", json={"disabled": True}, headers=ADMIN)
        assert disabled.status_code == 200 and disabled.json()["user"]["disabled_at"]
        assert (await c.get("/api/v1/metrics", headers=analyst)).status_code == 401
        hint = (await c.get("/api/v1/tokens", headers=vi_t)).json()["tokens"][0]["hint"]
        assert (await c.delete(f"/api/v1/tokens/{hint}", headers=vi_t)).status_code == 200
        assert (await c.get("/api/v1/metrics", headers=vi_t)).status_code == 401
        # the audit log names who changed what
        entries = (await c.get("/api/v1/audit", headers=ADMIN)).json()["entries"]
        seen = {(e["actor"], e["action"], e["target"]) for e in entries}
        assert ("an@example.com (token)", "POST /api/v1/experiments/{key}/start", "key=checkout") in seen
        assert ("ad@example.com", "POST /api/v1/users", "v2@example.com") in seen
        assert (ADMIN_TOKEN_USER, "PATCH /api/v1/users/{user}", "an@example.com") in seen
        assert not [e for e in entries if e["action"] == "POST /api/v1/experiments" and "vi@" in e["actor"]]
        db = sqlite3.connect(hw.settings.data_dir / "realtime.sqlite3")
        stored = " ".join(str(r) for r in db.execute("SELECT * FROM api_tokens"))
        assert all(t not in stored for t in tokens.values())  # API tokens are kept as hashes only

    run(tmp_path, scenario)


def test_a_cookie_alone_changes_nothing_csrf_and_media_types(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        assert (await c.post("/api/v1/experiments", json=EXPERIMENT, headers=ADMIN)).status_code == 201
        assert (await c.post("/api/v1/experiments/checkout/start", headers=ADMIN)).status_code == 200
        signed = await c.post("/dashboard/login", data={"token": TOKEN})
        session = signed.cookies[SESSION_COOKIE]
        assert session != TOKEN and TOKEN not in session
        page = await c.get("/dashboard/", headers=as_session(session))
        csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        stop = "/api/v1/experiments/checkout/stop"
        attempts: list[dict[str, str]] = [
            {},  # the cookie alone
            {"Origin": "http://127.0.0.1:9999"},  # another port of the same host: same site, other origin
            {"Origin": "http://127.0.0.1:9999", "X-CSRF-Token": csrf},
            {"X-CSRF-Token": "guess"},
            {"Origin": "null", "X-CSRF-Token": csrf},
        ]
        for headers in attempts:
            refused = await c.post(stop, headers={**as_session(session), **headers})
            assert refused.status_code == 403, (headers, refused.text)
            assert refused.json()["error"]["code"] in ("csrf", "cross_origin")
        running = (await c.get("/api/v1/experiments/checkout", headers=ADMIN)).json()
        assert running["status"] == "running"
        # reads need no token; the page's own requests (same origin, its token) change things
        assert (await c.get("/api/v1/experiments", headers=as_session(session))).status_code == 200
        ok = await c.post(stop, headers=as_session(session, csrf))
        assert ok.status_code == 200, ok.text
        # JSON routes refuse other media types before reading the body (a form cannot post JSON)
        for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            answer = await c.post(
                "/api/v1/audiences",
                content=b'{"id": "a", "rules": []}',
                headers={**ADMIN, "Content-Type": media},
            )
            assert answer.status_code == 415, (media, answer.text)
            assert media.split(";")[0] in answer.json()["error"]["message"]
        plain = await c.post("/api/v1/experiments", content=b"{}", headers={**ADMIN, "Content-Type": ""})
        assert plain.status_code == 415
        vendor = await c.post(
            "/api/v1/experiments", content=b"{}", headers={**ADMIN, "Content-Type": "application/vnd.x+json"}
        )
        assert vendor.status_code == 400  # JSON, read and refused for what it says

    run(tmp_path, scenario)


def test_failed_sign_ins_are_throttled_per_address(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        answers = [
            (await c.post("/dashboard/login", data={"token": f"guess-{i}"})).status_code for i in range(12)
        ]
        assert answers[:5] == [401] * 5 and set(answers[6:]) == {429}, answers
        limited = await c.post("/dashboard/login", data={"token": TOKEN})  # even the right one waits
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in limited.text
        other = await c.post(
            "/dashboard/login", data={"token": TOKEN}, headers={"X-Forwarded-For": "203.0.113.9"}
        )  # not trusted: the proxy header does not let a client pick another address
        assert other.status_code == 429

    run(tmp_path, scenario)
