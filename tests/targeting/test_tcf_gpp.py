"""TCF v2 and GPP decoders against real strings with known contents.

TCF strings and their expected core fields: the seed files of the iab-tcf Python project
(gguridi/iab-tcf, tests/seed/v2), and the string of Prebid Server's gdpr-conflict sample request.
GPP strings: the test suite of AdaptMX/gpp (headers, usnat, usca) and the same Prebid sample.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headwater.targeting import gpp, tcf
from headwater.targeting.bits import BitReader, BitsError

TCF_A = (
    "CG6MJgNIvJb0TAUAEBENAzCMAFvAAG7AAAJYGUlUcVlfByPiu55Ad8JQeAgftrYDE6QzDgEJs8wJQB9WxJwQpEMgKBX4BoII"
    "iRYEsnLAAAYkHAFcDQAAQIkVqSCsYkyMCyFCJJJEghIKM2ZYGG0OkcVQIRAY4wMsHeYAA2OrevzrigZOQCYQFYAAkJQwEg0K"
    "RQIgQADAgUA4AIKEYUiSQ0JHBDMjAINAAAAEBiAhAgAAgCgBgAAAgAASEBACACAgEAAAAgABACNAQgAAkAQSAEAQBAAKgIEg"
    "BEEEoAgBgMBACgAARIpFBIIDQgAWAAEAAwAPgArAB3AH4AToA8QCEgEtAKSCgBwABABSAFwAXYAzAB_QFTBAEIACAAFAAcAA"
    "8AC0AGQAOwApgBzAD0AIaASoBLACaAGGAMgAewA-AB9gEIAI0AVAA4AB8gEVAI7ATEAmUBSIC2AF5AL-AYMAwggAJAAWAEEA"
    "WIBnADqAK-AW0AuABk4cAUAA4AEQAJwAkgDnAL8AtEBcQDIgGSBgB4AEgAngCJAHkARgAkwBKwCvAG8AOOAeoBJYCbAFigLo"
    "JQCAAKACIAI4AWkAxQBuAEXgJECQAwAKgKwAYeUAIAAXAAyACoALgAiwBJgCjAFKAVsBJACmwFbALkAXcAxkBkBSAKACAAGg"
    "A0gChgLtHAEAAUQBGAEcALAAmABsgDvAJaAdMBQgChwFLgKsAWyAxIBjEDHAMdGAAQAWEgBYAMQAhABMACgAG0ApoBZwFUgL"
    "xAXmAx4dAPAB5AEMARAAqgCEAFIANEAcQA_QCUgFiALyAYQA2gC7wGGlQAIATSYAIAKgCmRIAYALYAYgA3gFZANQAusWACAD"
    "MAjoUAEADwAMoAfIBaBUAEARw0AIAJkAaoA4AEgjwBgArQBZQDjAOQAdYA8QDbAHtASiAq8BYgCyQF2BoA4AywBqAFLAKuA"
    "awBDYCdiEAUAb4BAwC5gHoAU0RADgEuAJwAV-A_YD-AIiAS8AvYRACAYEAwkA.IGVtd_X9fb2vj-_599_t0eY1f9_63t-wzj"
    "heNs-8NyZ_X_J4Xv2MyvB34pqYKmR4kunbBAQdtHGncTQgBwIlVqTLsYk2MjzNKJ7JEmlsbe2dYGH9Pn8XT_ZKZ70-v___7v3"
    "______7oA"
)
TCF_B = (
    "COxR03kOxR1CqBcABCENAgCMAP_AAH_AAAqIF3EXySoGY2thI2YVFxBEIYwfJxyigMgChgQIsSwNQIeFLBoGLiAAHBGYJAQA"
    "GBAEEACBAQIkHGBMCQAAgAgBiRCMQEGMCzNIBIBAggEbY0FACCVmHkHSmZCY7064O__QLuIJEFQMAkSBAIACLECIQwAQDiAA"
    "AYAlAAABAhIaAAgIWBQEeAAAACAwAAgAAABBAAACAAQAAICIAAABAAAgAiAQAAAAGgIQAACBABACRIAAAEANCAAgiCEAQg4E"
    "Ao4AAA"
)
TCF_D = (
    "CPIKj1vPPdzL-ACAnAFRBACsAP_AAH_AAAqIHFNf_X_fb3_j-_59_9t0eY1f9_7_v20zjgeds-8Nyd_X_L8X4mM7vB36pq4Ku"
    "R4Eu3LBAQdlHOHcTUmw6IkVqTPsbk2Mr7NKJ7PEinMbe2dYGH9_n9XTuZKY79_s_z-v7_f_r-3_3_vp9V---wOJAJMNS-AizE"
    "scCSaNKoUQIQriQ6AEAFFCMLRNYQErgp2VwEfoIGACA1ARgRAgxBRiyCAAAAAJKIgJADwQCIAiAQAAgBUgIQAEaAILACQMAg"
    "AFANCwAigCECQgyOCo5TAgIkWignkrAEou9jDCEMooAaBAAAAA.YAAAAAAAAAAA"
)
TCF_PREBID = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_core_fields_of_real_strings() -> None:
    a = tcf.decode(TCF_A)
    assert (a.version, a.cmp_id, a.cmp_version, a.consent_screen) == (2, 20, 4, 1)
    assert (a.consent_language, a.vendor_list_version, a.policy_version, a.publisher_cc) == (
        "EN",
        51,
        2,
        "BL",
    )
    assert a.created.replace(microsecond=0) == _at("1993-07-05T11:23:32")
    assert a.last_updated.replace(microsecond=0) == _at("1999-09-23T13:34:57")
    assert a.special_feature_optins == {1, 2}
    assert a.purpose_consents == {2, 4, 5, 7, 8, 9, 10}
    assert a.purpose_legitimate_interests == {2, 3, 5, 6, 7, 9, 10}
    assert not a.is_service_specific and not a.purpose_one_treatment
    b = tcf.decode(TCF_B)
    assert (b.cmp_id, b.cmp_version, b.consent_screen, b.vendor_list_version, b.publisher_cc) == (
        92,
        1,
        2,
        32,
        "FR",
    )
    assert b.created.replace(microsecond=0) == _at("2020-04-03T11:43:31")
    assert b.purpose_consents == set(range(1, 11))
    d = tcf.decode(TCF_D)
    assert (d.cmp_id, d.cmp_version, d.consent_language, d.vendor_list_version) == (2, 39, "FR", 64)
    assert d.is_service_specific


@pytest.mark.parametrize(
    ("string", "grants"), [(TCF_A, False), (TCF_B, True), (TCF_D, True), (TCF_PREBID, False)]
)
def test_purposes_3_and_4_decide(string: str, grants: bool) -> None:
    assert tcf.decode(string).grants() is grants


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "gdpr-consent-string",
        "some-consent-string",
        "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA",
        "CPXxRfAPXx",
        "CP$x",
    ],
)
def test_strings_that_do_not_decode(bad: str) -> None:
    with pytest.raises(tcf.TCFError):
        tcf.decode(bad)


def test_bit_reader_reads_fields_and_fibonacci() -> None:
    reader = BitReader("DBACNYA")
    assert (reader.uint(6), reader.uint(6), reader.uint(12)) == (3, 1, 2)
    assert (reader.flag(), reader.fibonacci(), reader.flag(), reader.fibonacci()) == (False, 2, False, 4)
    with pytest.raises(BitsError):
        reader.uint(64)


@pytest.mark.parametrize(
    ("string", "ids"),
    [
        ("DBABMA~" + TCF_PREBID, [2]),
        ("DBACNYA~" + TCF_PREBID + "~1YNN", [2, 6]),
        ("DBABjw~" + TCF_PREBID + "~1YNN", [5, 6]),  # a range
        ("DBABBgA~xlgWEYCZAA", [8]),
    ],
)
def test_gpp_headers(string: str, ids: list[int]) -> None:
    assert list(gpp.decode(string).sections) == ids


@pytest.mark.parametrize("bad", ["gppString", "gA~x", "DBACNYA~only-one", "", "~"])
def test_gpp_strings_that_do_not_decode(bad: str) -> None:
    with pytest.raises(gpp.GPPError):
        gpp.decode(bad)


def test_us_sections() -> None:
    nat = gpp.us_opt_outs(gpp.US_NAT, "DSJgmkoZJSY.YAAA")  # sale 2, sharing 0, targeted 0, GPC on
    assert (nat.sale, nat.sharing, nat.targeted_advertising, nat.gpc) == (False, False, False, True)
    ca = gpp.us_opt_outs(gpp.US_CA, "xlgWEYCZAA")  # sale 2, sharing 0, no GPC segment
    assert not ca.any
    assert gpp.us_opt_outs(gpp.US_CA, "xlgWEYCZAA.YAAA").gpc
    with pytest.raises(gpp.GPPError):
        gpp.us_opt_outs(9, "xlgWEYCZAA")
    with pytest.raises(gpp.GPPError):
        gpp.us_opt_outs(gpp.US_NAT, "DS")
