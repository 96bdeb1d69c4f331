"""Every bid request of the shared fixtures through validate + consent + enrich (see MANIFEST.tsv)."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import msgspec
import pytest

from headwater.targeting.consent import decide
from headwater.targeting.enrich import Segment, enrich, identity_candidates, is_ours
from headwater.targeting.lookup import StaticLookup
from headwater.targeting.pipeline import EnrichSettings, enrich_body
from headwater.targeting.validate import InvalidBidRequest, parse
from tests.targeting.fixtures import PROVIDER, Fixture, manifest, requests

VALID = requests(valid=True)
INVALID = requests(valid=False)
SEGMENTS = [Segment("782", 4), Segment("14", 4), Segment("vip-2024")]

# The field each INVALID fixture must be refused for (from the Prebid Server expectation).
INVALID_FIELD = {
    "imp-empty-array": "request.imp",
    "malformed-bid-request": "request",
    "no-site-or-app-or-dooh": "request.site",
    "only-request-id": "request.imp",
    "regs-gdpr-invalid": "request.regs.gdpr",
    "site-app-both": "request.app",
    "tmax-negative": "request.tmax",
    "user-gdpr-consent-invalid": "request.user.ext.consent",
    "dooh-video-bid-response_malformed-json": "request",
}

# The consent decision under the default policy (GDPR applies when unknown), worked out by hand.
CONSENT = {
    "rubicontest__exemplary__user-fpd": "gdpr_no_consent",  # no regs: GDPR assumed, no consent string
    "smaatotest__exemplary__simple-banner": "coppa",  # regs.coppa = 1
    "exemplary__all-ext": "us_privacy",  # regs.ext.us_privacy 1NYN: opted out of sale
    "exemplary__dooh": "gdpr_no_consent",
    "ortb-2.5-to-2.6-upconvert": "us_privacy",  # 1YYY
    "exemplary__simple": "gdpr_no_consent",
    "app-ios140-no-ifa": "gdpr_no_consent",
    "gdpr-conflict": "gpp",  # gpp_sid [6]: the uspv1 section 1NYN opts out
    "us-privacy-invalid": "us_privacy_bad_string",
    "user-eids-source-empty": "gdpr_no_consent",
    "ccpa-nosale-any-bidder": "us_privacy",  # 1-Y-
    "gdpr-geo-eu-on": "gdpr_no_consent",
    "lmt-featureflag-on": "lmt",
}


def _ids(fixtures: list[Fixture]) -> list[str]:
    return [fx.name for fx in fixtures]


def _without_ours(request: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Undo our enrichment: drop our user.data entries, and what we created for them."""
    result = copy.deepcopy(request)
    user = result["user"]
    user["data"] = [d for d in user["data"] if not is_ours(d, PROVIDER)]
    if "user" not in original:
        del result["user"]
    elif "data" not in original["user"]:
        del user["data"]
    return result


def test_the_manifest_is_covered() -> None:
    assert len(VALID) == 21 and len(INVALID) == 9
    assert {fx.kind for fx in manifest()} == {"request", "response", "fragment", "not-json"}


@pytest.mark.parametrize("fx", VALID, ids=_ids(VALID))
def test_valid_requests_come_back_unchanged_but_for_our_entry(fx: Fixture) -> None:
    original = parse(fx.text)
    pristine = copy.deepcopy(original)
    enriched = enrich(original, SEGMENTS, PROVIDER)
    assert original == pristine, "the input must not be mutated"
    ours = [d for d in enriched["user"]["data"] if is_ours(d, PROVIDER)]
    assert ours == [
        {"name": PROVIDER, "segment": [{"id": "782"}, {"id": "14"}], "ext": {"segtax": 4}},
        {"name": PROVIDER, "segment": [{"id": "vip-2024"}]},
    ]
    restored = _without_ours(enriched, original)
    assert json.dumps(restored) == json.dumps(original), "every other field, in its order"
    reencoded = msgspec.json.encode(enriched)
    assert parse(reencoded) == enriched, "the enriched request still passes validation"


@pytest.mark.parametrize("fx", INVALID, ids=_ids(INVALID))
def test_invalid_requests_are_refused_naming_the_field(fx: Fixture) -> None:
    field = next(v for k, v in INVALID_FIELD.items() if k in fx.name)
    with pytest.raises(InvalidBidRequest) as caught:
        parse(fx.text)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert str(caught.value).startswith("Invalid request: ")


def test_prebid_messages_are_kept_where_prebid_names_the_field() -> None:
    by_name = {fx.name: fx for fx in INVALID}
    wrapper_root = next(iter(by_name.values())).path.parents[1] / "prebid-server"
    for wrapper in (wrapper_root / "endpoints/openrtb2/sample-requests/invalid-whole").glob("*.json"):
        expected = json.loads(wrapper.read_text())["expectedErrorMessage"].strip()
        if "req.user.ext" in expected or "expect {" in expected:
            continue  # Go decoder wording; ours names request.user.ext.consent / request
        with pytest.raises(InvalidBidRequest) as caught:
            parse(json.dumps(json.loads(wrapper.read_text())["mockBidRequest"]))
        assert str(caught.value) == expected, wrapper.name


def test_responses_are_not_requests() -> None:
    responses = [fx for fx in manifest() if fx.kind == "response"]
    assert len(responses) == 8
    for fx in responses:
        with pytest.raises(InvalidBidRequest) as caught:
            parse(fx.text)
        assert caught.value.field == "request.imp"


def test_spec_fragments_give_their_identities() -> None:
    fragments = {fx.name: fx.json() for fx in manifest() if fx.kind == "fragment"}
    base = {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}}
    found = {}
    for name, fragment in fragments.items():
        request = parse(json.dumps(base | fragment))
        found[name.split("_")[1]] = [(k.kind, k.value) for k in identity_candidates(request)]
    assert found["example3"] == [("eid", "ZK5GQGDZ-M-DK5U")]
    assert found["example4"][:2] == [
        ("user.buyeruid", "FQAGL4yyYwOBNgDZ4PUqAQA8ewN"),
        ("eid", "ZK5GQGDZ-M-DK5U"),
    ]
    assert found["example6"][0] == ("device.ifa", "df3a42f4-a388-43e9-a691-b0d308c963b4")
    assert len(found["example6"]) > 1


@pytest.mark.parametrize("fx", VALID[:13], ids=_ids(VALID[:13]))
def test_consent_decisions_on_prebid_fixtures(fx: Fixture) -> None:
    expected = next(v for k, v in CONSENT.items() if k in fx.name)
    assert decide(parse(fx.text)).reason == expected


def test_iab_examples_without_regs_follow_the_gdpr_setting() -> None:
    from headwater.targeting.consent import ConsentPolicy

    for fx in VALID[13:]:
        request = parse(fx.text)
        assert decide(request).reason == "gdpr_no_consent", fx.name
        assert decide(request, ConsentPolicy(gdpr_unknown_applies=False)).allowed, fx.name


def test_blocked_requests_come_back_unchanged_through_the_pipeline() -> None:
    lookup = StaticLookup({"some-id": SEGMENTS, "some-buyer-id": SEGMENTS})
    settings = EnrichSettings(provider=PROVIDER)
    for fx in VALID:
        outcome = asyncio.run(enrich_body(fx.text, lookup, settings))
        assert not outcome.changed, fx.name
        assert outcome.request == json.loads(fx.text)
