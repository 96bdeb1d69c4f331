"""An alert's webhook: one JSON POST (Slack's incoming webhooks take ``{"text": ...}``) with a short
timeout, through the standard library. Any answer but a 2xx, a redirect included, is a failure
whose message names the host (never the URL: a Slack webhook's path is its secret)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from headwater import __version__

TIMEOUT_SECONDS = 5.0
#: what a check calls to send: (url, JSON payload) -> None, or WebhookError
Sender = Callable[[str, dict[str, Any]], None]


class WebhookError(Exception):
    """The webhook did not take the message; the text says why, naming the host."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is raised as an HTTPError below


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_webhook(url: str, body: dict[str, Any], timeout: float = TIMEOUT_SECONDS) -> None:
    """POST ``body`` as JSON to ``url``; WebhookError unless the answer is a 2xx in time."""
    host = urlsplit(url).hostname or "the webhook"
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"Headwater/{__version__} (alerts)"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(64 * 1024)
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        text = _first_line(exc)
        raise WebhookError(f"{host} answered HTTP {exc.code}{': ' + text if text else ''}") from None
    except urllib.error.URLError as exc:
        raise WebhookError(f"could not reach {host}: {_reason(exc.reason)}") from None
    except TimeoutError:
        raise WebhookError(f"{host} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise WebhookError(f"could not reach {host}: {_reason(exc)}") from None
    if not 200 <= status < 300:
        raise WebhookError(f"{host} answered HTTP {status}")


def _first_line(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(300)
    except OSError:
        return ""
    finally:
        exc.close()
    text = raw.decode("utf-8", "replace").strip().splitlines()
    return text[0][:200] if text else ""


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
