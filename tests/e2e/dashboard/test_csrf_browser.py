"""Issue 18 item 4, as it was found: in a browser signed in to the dashboard, a page served from
another port of the same host (same site, so the SameSite=Strict cookie goes along) tries to stop a
running experiment and to create a sendable audience, with fetch and with a plain form. Nothing
changes; the dashboard's own page still changes things."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dashboard.browser import wait_ready
from tests.e2e.dashboard.support import TOKEN, session_cookie
from tests.helpers import Server, free_port

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
EXPERIMENT = {
    "key": "csrf-probe",
    "variations": ["control", "b"],
    "metrics": {"primary": {"key": "bought", "kind": "conversion", "event": "Order Completed"}},
}
ATTACK = """<!doctype html><html><body>
<form id="f" method="post" action="{base}/api/v1/audiences" enctype="text/plain" target="sink">
<input name='{{"id":"stolen","rules":[],"x":"' value='"}}'></form>
<iframe name="sink"></iframe>
<script>
(async () => {{
  const results = [];
  for (const init of [
    {{method: "POST", credentials: "include", mode: "no-cors"}},
    {{method: "POST", credentials: "include", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
      body: JSON.stringify({{id: "stolen2", rules: []}})}},
    {{method: "POST", credentials: "include", headers: {{"Content-Type": "application/json"}}, body: "{{}}"}},
  ]) {{
    const url = init.body ? "{base}/api/v1/audiences" : "{base}/api/v1/experiments/csrf-probe/stop";
    try {{ await fetch(url, init); results.push("sent"); }} catch (e) {{ results.push("blocked"); }}
  }}
  document.getElementById("f").submit();
  document.title = "done " + results.join(",");
}})();
</script></body></html>"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(tmp_path / "data", env={"HEADWATER_ADMIN_TOKEN": TOKEN}) as srv:
        assert httpx.post(srv.url + "/api/v1/experiments", json=EXPERIMENT, headers=ADMIN).status_code == 201
        started = httpx.post(srv.url + "/api/v1/experiments/csrf-probe/start", headers=ADMIN)
        assert started.status_code == 200
        yield srv


@pytest.fixture
def attacker(server: Server) -> Iterator[str]:
    """A page on another port of the same host."""
    page = ATTACK.format(base=server.url).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_another_port_of_the_same_host_changes_nothing(context: Any, server: Server, attacker: str) -> None:
    context.add_cookies([session_cookie(server.url)])
    own = context.new_page()
    own.goto(server.url + "/dashboard/")
    wait_ready(own)  # signed in: the session cookie is in this browser
    evil = context.new_page()
    seen: list[tuple[str, int]] = []
    evil.on("response", lambda r: seen.append((r.url, r.status)) if "/api/v1/" in r.url else None)
    evil.goto(attacker)
    evil.wait_for_function("document.title.startsWith('done')", timeout=15_000)
    evil.wait_for_timeout(1000)  # the form's post lands in the iframe
    experiment = httpx.get(server.url + "/api/v1/experiments/csrf-probe", headers=ADMIN).json()
    assert experiment["status"] == "running", (experiment, seen)
    audiences = httpx.get(server.url + "/api/v1/audiences", headers=ADMIN).json()["audiences"]
    assert audiences == [], (audiences, seen)
    assert seen and all(status in (403, 415) for _, status in seen), seen
    # the dashboard's own page, same browser, same cookie: its requests carry the CSRF token
    stopped = own.evaluate(
        """async () => {
          const csrf = document.querySelector('meta[name="csrf-token"]').content;
          const r = await fetch('/api/v1/experiments/csrf-probe/stop',
            {method: 'POST', credentials: 'same-origin', headers: {'X-CSRF-Token': csrf}});
          return r.status;
        }"""
    )
    assert stopped == 200
    assert (
        httpx.get(server.url + "/api/v1/experiments/csrf-probe", headers=ADMIN).json()["status"] == "stopped"
    )
