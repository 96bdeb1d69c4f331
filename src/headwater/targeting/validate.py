"""OpenRTB 2.5 / 2.6 BidRequest validation: refuse what Prebid Server refuses, naming the field.

Rules come from Prebid Server's auction endpoint and its sample requests (see docs/targeting.md).
Spec type quirks that Prebid tolerates (strings for integers in eids, extra fields) are tolerated.
"""

from __future__ import annotations

from typing import Any

import msgspec

from headwater.events.normalize import MAX_BODY_DEPTH, json_too_deep

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_MEDIA = ("banner", "video", "audio", "native")


class InvalidBidRequest(ValueError):
    """A request refused with HTTP 400: `field` is the JSON path at fault, `code` the error's."""

    def __init__(self, field: str, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"Invalid request: {self.message}"


def too_large(size: int, limit: int = DEFAULT_MAX_BYTES) -> bool:
    """True when a body of `size` bytes is over the limit (answered 413 by the HTTP layer)."""
    return size > limit


def parse(body: bytes | str) -> dict[str, Any]:
    """Decode and validate a request body; key order and unknown fields are kept as sent."""
    try:
        request = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidBidRequest("request", f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise _too_deep() from None
    if json_too_deep(body, request, MAX_BODY_DEPTH):
        raise _too_deep()
    return validate(request)


def _too_deep() -> InvalidBidRequest:
    message = f"request body nests objects and arrays deeper than {MAX_BODY_DEPTH} levels"
    return InvalidBidRequest("request", message, "too_deep")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidBidRequest(path, f"{path} must be an object")
    return value


def _flag(parent: dict[str, Any] | None, key: str, path: str) -> None:
    if parent is None or parent.get(key) is None:
        return
    if not _is_int(parent[key]) or parent[key] not in (0, 1):
        raise InvalidBidRequest(path, f"{path} must be either 0 or 1")


def _string(parent: dict[str, Any] | None, key: str, path: str) -> None:
    if parent is not None and parent.get(key) is not None and not isinstance(parent[key], str):
        raise InvalidBidRequest(path, f"{path} must be a string")


def validate(request: object) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise InvalidBidRequest("request", "request must be a JSON object")
    request_id = request.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise InvalidBidRequest("request.id", 'request missing required field: "id"')
    tmax = request.get("tmax")
    if tmax is not None:
        if not _is_int(tmax):
            raise InvalidBidRequest("request.tmax", "request.tmax must be an integer")
        if tmax < 0:
            raise InvalidBidRequest("request.tmax", f"request.tmax must be nonnegative. Got {tmax}")
    _validate_imps(request.get("imp"))
    _validate_distribution(request)
    _validate_regs(_object(request, "regs", "request.regs"))
    _validate_user(_object(request, "user", "request.user"))
    device = _object(request, "device", "request.device")
    _flag(device, "lmt", "request.device.lmt")
    _string(device, "ifa", "request.device.ifa")
    return request


def _validate_imps(imps: object) -> None:
    if not isinstance(imps, list) or not imps:
        raise InvalidBidRequest("request.imp", "request.imp must contain at least one element.")
    seen: dict[str, int] = {}
    for index, imp in enumerate(imps):
        path = f"request.imp[{index}]"
        if not isinstance(imp, dict):
            raise InvalidBidRequest(path, f"{path} must be an object")
        imp_id = imp.get("id")
        if not isinstance(imp_id, str) or not imp_id:
            raise InvalidBidRequest(f"{path}.id", f'{path} missing required field: "id"')
        if imp_id in seen:
            raise InvalidBidRequest(
                f"{path}.id",
                f'request.imp[{seen[imp_id]}].id and {path}.id are both "{imp_id}". Imp IDs must be unique.',
            )
        seen[imp_id] = index
        if not any(imp.get(media) is not None for media in _MEDIA):
            raise InvalidBidRequest(
                path, f'{path} must contain at least one of "banner", "video", "audio", or "native"'
            )


def _validate_distribution(request: dict[str, Any]) -> None:
    present = [key for key in ("site", "app", "dooh") if request.get(key) is not None]
    if len(present) > 1:
        raise InvalidBidRequest(
            "request." + present[1],
            "No more than one of request.site or request.app or request.dooh can be defined",
        )
    if not present:  # Prebid treats a missing channel as an empty site
        raise InvalidBidRequest(
            "request.site",
            "request.site should include at least one of request.site.id or request.site.page.",
        )
    site = _object(request, "site", "request.site")
    if site is not None and not site.get("id") and not site.get("page"):
        raise InvalidBidRequest(
            "request.site",
            "request.site should include at least one of request.site.id or request.site.page.",
        )
    _object(request, "app", "request.app")
    dooh = _object(request, "dooh", "request.dooh")
    if dooh is not None and not dooh.get("id") and not dooh.get("venuetype"):
        raise InvalidBidRequest(
            "request.dooh",
            "request.dooh should include at least one of request.dooh.id or request.dooh.venuetype.",
        )


def _validate_regs(regs: dict[str, Any] | None) -> None:
    if regs is None:
        return
    _flag(regs, "gdpr", "request.regs.gdpr")
    _flag(regs, "coppa", "request.regs.coppa")
    _string(regs, "us_privacy", "request.regs.us_privacy")
    _string(regs, "gpp", "request.regs.gpp")
    _sid_list(regs, "request.regs.gpp_sid")
    ext = _object(regs, "ext", "request.regs.ext")
    _flag(ext, "gdpr", "request.regs.ext.gdpr")
    _string(ext, "us_privacy", "request.regs.ext.us_privacy")
    _string(ext, "gpp", "request.regs.ext.gpp")
    if ext is not None:
        _sid_list(ext, "request.regs.ext.gpp_sid")


def _sid_list(parent: dict[str, Any], path: str) -> None:
    sids = parent.get(path.rsplit(".", 1)[1])
    if sids is not None and (not isinstance(sids, list) or not all(_is_int(s) for s in sids)):
        raise InvalidBidRequest(path, f"{path} must be an array of integers")


def _validate_user(user: dict[str, Any] | None) -> None:
    if user is None:
        return
    _string(user, "id", "request.user.id")
    _string(user, "buyeruid", "request.user.buyeruid")
    _string(user, "consent", "request.user.consent")
    ext = _object(user, "ext", "request.user.ext")
    _string(ext, "consent", "request.user.ext.consent")
    data = user.get("data")
    if data is not None and (not isinstance(data, list) or not all(isinstance(d, dict) for d in data)):
        raise InvalidBidRequest("request.user.data", "request.user.data must be an array of objects")
    for base, holder in (("request.user", user), ("request.user.ext", ext)):
        if holder is not None:
            _validate_eids(holder.get("eids"), f"{base}.eids")


def _validate_eids(eids: object, path: str) -> None:
    if eids is None:
        return
    if not isinstance(eids, list):
        raise InvalidBidRequest(path, f"{path} must be an array")
    for index, eid in enumerate(eids):
        where = f"{path}[{index}]"
        if not isinstance(eid, dict):
            raise InvalidBidRequest(where, f"{where} must be an object")
        uids = eid.get("uids")
        if not isinstance(uids, list) or not uids:
            raise InvalidBidRequest(f"{where}.uids", f"{where}.uids must contain at least one element")
        for position, uid in enumerate(uids):
            at = f"{where}.uids[{position}]"
            if not isinstance(uid, dict) or not isinstance(uid.get("id"), str) or not uid["id"]:
                raise InvalidBidRequest(f"{at}.id", f'{at} missing required field: "id"')
