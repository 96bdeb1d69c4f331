"""The consent gate, one test per gate and placement (OpenRTB 2.6 and 2.5 extension)."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.targeting import tcf
from headwater.targeting.consent import ConsentPolicy, decide
from tests.targeting.encoding import gpp_header, tcf_core, usnat

GRANTED = tcf_core({1, 2, 3, 4, 7})
ONLY_3 = tcf_core({1, 3})
OPEN = {"regs": {"gdpr": 0}}  # a request no gate stops


def req(**parts: Any) -> dict[str, Any]:
    return {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}} | parts


def test_encoder_round_trip() -> None:
    assert tcf.decode(GRANTED).purpose_consents == {1, 2, 3, 4, 7}
    assert tcf.decode(GRANTED).cmp_id == 10


@pytest.mark.parametrize(
    ("request_parts", "reason"),
    [
        ({"regs": {"gdpr": 0}}, "allowed"),
        ({"regs": {"gdpr": 0, "coppa": 1}}, "coppa"),
        ({"regs": {"gdpr": 0, "coppa": 0}}, "allowed"),
        ({"regs": {"gdpr": 0}, "device": {"lmt": 1}}, "lmt"),
        ({"regs": {"gdpr": 0}, "device": {"lmt": 0}}, "allowed"),
        ({"regs": {"gdpr": 0, "ext": {"gpc": "1"}}}, "gpc"),
        ({"regs": {"gdpr": 0, "ext": {"gpc": "0"}}}, "allowed"),
        ({"regs": {"gdpr": 0, "us_privacy": "1YYN"}}, "us_privacy"),
        ({"regs": {"gdpr": 0, "ext": {"us_privacy": "1-Y-"}}}, "us_privacy"),
        ({"regs": {"gdpr": 0, "us_privacy": "1YNN"}}, "allowed"),
        ({"regs": {"gdpr": 0, "us_privacy": "1---"}}, "allowed"),
        ({"regs": {"gdpr": 0, "us_privacy": "{invalid}"}}, "us_privacy_bad_string"),
        ({"regs": {"gdpr": 0, "us_privacy": "1NNN", "ext": {"us_privacy": "1YYY"}}}, "allowed"),  # 2.6 wins
        ({"regs": {"gdpr": 1}}, "gdpr_no_consent"),
        ({"regs": {"gdpr": 1}, "user": {"consent": GRANTED}}, "allowed"),
        ({"regs": {"gdpr": 1}, "user": {"consent": ONLY_3}}, "gdpr_no_consent"),
        ({"regs": {"gdpr": 1}, "user": {"consent": "gdpr-consent-string"}}, "gdpr_bad_string"),
        ({"regs": {"ext": {"gdpr": 1}}, "user": {"ext": {"consent": GRANTED}}}, "allowed"),
        ({"regs": {"ext": {"gdpr": 1}}, "user": {"ext": {"consent": ONLY_3}}}, "gdpr_no_consent"),
        ({"regs": {"ext": {"gdpr": 0}}}, "allowed"),
        ({}, "gdpr_no_consent"),  # unknown applicability: applies by default
        ({"user": {"consent": GRANTED}}, "allowed"),
    ],
)
def test_gates(request_parts: dict[str, Any], reason: str) -> None:
    assert decide(req(**request_parts)).reason == reason


def test_unknown_gdpr_follows_the_setting() -> None:
    assert decide(req(), ConsentPolicy(gdpr_unknown_applies=False)).allowed
    assert (
        decide(req(regs={"gdpr": 1}), ConsentPolicy(gdpr_unknown_applies=False)).reason == "gdpr_no_consent"
    )


def test_invalid_us_privacy_follows_the_setting() -> None:
    request = req(regs={"gdpr": 0, "us_privacy": "garbage"})
    assert decide(request, ConsentPolicy(block_invalid_us_privacy=False)).allowed


def _gpp(sids: list[int], *sections: str, ext: bool = False) -> dict[str, Any]:
    regs = {"gpp": "~".join([gpp_header(sids), *sections]), "gpp_sid": sids}
    return req(regs={"ext": regs | {"gdpr": 0}} if ext else regs | {"gdpr": 0})


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (_gpp([7], usnat()), "allowed"),
        (_gpp([7], usnat(sale=1)), "gpp"),
        (_gpp([7], usnat(sharing=1)), "gpp"),
        (_gpp([7], usnat(targeted=1)), "gpp"),
        (_gpp([7], usnat(sale=0, sharing=0, targeted=0)), "allowed"),
        (_gpp([7], usnat(gpc=True)), "gpp"),
        (_gpp([7], usnat(gpc=False)), "allowed"),
        (_gpp([7], usnat(sale=1), ext=True), "gpp"),  # 2.5 placement
        (_gpp([6], "1YYN"), "gpp"),
        (_gpp([6], "1NNN"), "allowed"),
        (_gpp([8], "xlgWEYCZAA"), "allowed"),
        (_gpp([9], "xlgWEYCZAA"), "gpp_unsupported_section"),  # usva: not decoded, fail closed
        (_gpp([7], "D"), "gpp_bad_string"),
        (req(regs={"gdpr": 0, "gpp": "gppString", "gpp_sid": [7]}), "gpp_bad_string"),
        (_gpp([2], GRANTED), "allowed"),  # the TCF EU section applies: GDPR with that string
        (_gpp([2], ONLY_3), "gdpr_no_consent"),
    ],
)
def test_gpp_gates(request_: dict[str, Any], reason: str) -> None:
    assert decide(request_).reason == reason


def test_gate_order_gives_the_first_reason() -> None:
    request = req(regs={"coppa": 1, "gdpr": 1, "us_privacy": "1YYY"}, device={"lmt": 1})
    assert decide(request).reason == "coppa"
    assert decide(req(regs={"gdpr": 1, "us_privacy": "1YYY"}, device={"lmt": 1})).reason == "lmt"
