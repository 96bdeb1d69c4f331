"""Validation rules beyond the fixtures, and the request size guard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from headwater.targeting.validate import DEFAULT_MAX_BYTES, InvalidBidRequest, parse, too_large, validate


def req(**parts: Any) -> dict[str, Any]:
    return {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}} | parts


def test_size_guard() -> None:
    assert DEFAULT_MAX_BYTES == 5 * 1024 * 1024
    assert not too_large(DEFAULT_MAX_BYTES)
    assert too_large(DEFAULT_MAX_BYTES + 1)
    assert too_large(1001, limit=1000) and not too_large(1000, limit=1000)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ([], "request"),
        ({"imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}}, "request.id"),
        (req(id=""), "request.id"),
        (req(tmax="500"), "request.tmax"),
        (req(imp={"id": "1"}), "request.imp"),
        (req(imp=[{"banner": {}}]), "request.imp[0].id"),
        (req(imp=[{"id": "1", "banner": {}}, {"id": "1", "video": {}}]), "request.imp[1].id"),
        (req(imp=[{"id": "1"}]), "request.imp[0]"),
        (req(site={}), "request.site"),
        (req(site="p"), "request.site"),
        (req(dooh={"id": "d"}), "request.dooh"),
        ({"id": "r", "imp": [{"id": "1", "banner": {}}], "dooh": {"name": "x"}}, "request.dooh"),
        (req(regs={"gdpr": True}), "request.regs.gdpr"),
        (req(regs={"ext": {"gdpr": 2}}), "request.regs.ext.gdpr"),
        (req(regs={"coppa": 3}), "request.regs.coppa"),
        (req(regs={"us_privacy": 1}), "request.regs.us_privacy"),
        (req(regs={"gpp_sid": "7"}), "request.regs.gpp_sid"),
        (req(regs={"ext": {"gpp_sid": ["7"]}}), "request.regs.ext.gpp_sid"),
        (req(user={"consent": 1}), "request.user.consent"),
        (req(user={"data": {}}), "request.user.data"),
        (req(user={"eids": [{"source": "s", "uids": []}]}), "request.user.eids[0].uids"),
        (req(user={"eids": [{"source": "s", "uids": [{"atype": 1}]}]}), "request.user.eids[0].uids[0].id"),
        (req(user={"ext": {"eids": [{"uids": [{"id": 5}]}]}}), "request.user.ext.eids[0].uids[0].id"),
        (req(device={"lmt": 2}), "request.device.lmt"),
        (req(device=[]), "request.device"),
    ],
)
def test_refusals_name_the_field(request_: object, field: str) -> None:
    with pytest.raises(InvalidBidRequest) as caught:
        validate(request_)
    assert caught.value.field == field
    parent, _, leaf = field.rpartition(".")
    # Prebid's wording for missing ids names the field in its parent: 'request.imp[0] ... field: "id"'
    assert field in str(caught.value) or (f'{parent} missing required field: "{leaf}"' in str(caught.value))


def test_tolerated() -> None:
    validate(req(app={}, site=None))  # null counts as absent; an empty app is enough for Prebid
    validate(req(dooh={"venuetype": ["x"]}, site=None))
    validate(req(user={"eids": [{"uids": [{"id": "A", "atype": "3"}], "mm": "3"}]}))  # spec type quirks
    validate(req(regs={"gdpr": None}, tmax=0))


def test_parse_keeps_key_order_and_unknown_fields() -> None:
    body = (
        '{"zz": 1, "id": "r", "imp": [{"id": "1", "banner": {}, "ext": {"x": [1, 2.5]}}], '
        '"site": {"page": "p"}}'
    )
    parsed = parse(body.encode())
    assert list(parsed) == ["zz", "id", "imp", "site"]
    assert json.dumps(parsed, separators=(", ", ": ")) == body


@pytest.mark.parametrize("body", [b"", b"{", b'{"id": NaN}', b"\xff\xfe", b"malformed"])
def test_not_json(body: bytes) -> None:
    with pytest.raises(InvalidBidRequest) as caught:
        parse(body)
    assert caught.value.field == "request"
