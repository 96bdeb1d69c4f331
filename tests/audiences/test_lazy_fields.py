"""The audiences tailer decodes properties, traits and context only when it needs them."""

from __future__ import annotations

import msgspec

from headwater.audiences.tailer import AudienceEvent, advertising_id, ids_of, raw_object

_decode = msgspec.json.Decoder(list[AudienceEvent]).decode


def _events(text: str) -> list[AudienceEvent]:
    return _decode(text.encode())


def test_ad_ids_from_the_device_and_identify_traits() -> None:
    (ev,) = _events(
        '[{"type":"identify","userId":"u","traits":{"ifa":"i1","eids":[{"id":"e1"},"e2"],"email":"x"},'
        '"context":{"ip":"1.2.3.0","device":{"advertisingId":"ad-1","model":"x"}}}]'
    )
    assert ids_of(ev) == ["ad-1", "i1", "e1", "e2"]


def test_traits_count_on_identify_only() -> None:
    (ev,) = _events('[{"type":"track","traits":{"ifa":"i1"}}]')
    assert ids_of(ev) == []


def test_odd_shapes_are_empty_not_errors() -> None:
    evs = _events(
        '[{"context":"text","properties":[1,2]},{"context":{"device":5}},{"context":null,"properties":null},{}]'
    )
    for ev in evs:
        assert ids_of(ev) == [] and raw_object(ev.properties) == {}
    assert advertising_id(evs[1].context) is None


def test_properties_decode_to_the_object_sent() -> None:
    (ev,) = _events('[{"properties":{"plan":"pro","n":[1,{"a":null}]}}]')
    assert raw_object(ev.properties) == {"plan": "pro", "n": [1, {"a": None}]}
