"""The consent gate: may this request be enriched? One decision with a reason code to count.

Checked in this order, the first failing gate giving the reason: coppa, lmt, gpc, us_privacy, gpp,
gdpr. Both OpenRTB 2.6 placements (regs.gdpr, regs.us_privacy, regs.gpp, user.consent) and the 2.5
extension placements (regs.ext.*, user.ext.consent) are read; the 2.6 field wins when both are set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from headwater.targeting import gpp, tcf

ALLOWED: Final = "allowed"
REASONS: Final = (
    ALLOWED,
    "coppa",
    "lmt",
    "gpc",
    "us_privacy",
    "us_privacy_bad_string",
    "gpp",
    "gpp_bad_string",
    "gpp_unsupported_section",
    "gdpr_no_consent",
    "gdpr_bad_string",
)


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    gdpr_unknown_applies: bool = True  # neither regs.gdpr nor regs.ext.gdpr: treat GDPR as applying
    block_invalid_us_privacy: bool = True  # a malformed US privacy string counts as no consent


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    reason: str
    #: Whether a privacy signal applied: GDPR, or a US privacy or GPP string present. False only
    #: when the request was allowed because none did (the decision log's ``not_applicable``).
    applies: bool = True

    @property
    def allowed(self) -> bool:
        return self.reason == ALLOWED


#: One shared decision per outcome: deciding allocates nothing.
_DECISIONS: Final = {reason: ConsentDecision(reason) for reason in REASONS}
_ALLOWED_BY_SIGNALS: Final = _DECISIONS[ALLOWED]
_NOTHING_APPLIES: Final = ConsentDecision(ALLOWED, applies=False)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pick(primary: dict[str, Any], fallback: dict[str, Any], key: str) -> Any:
    value = primary.get(key)
    return fallback.get(key) if value is None else value


def _us_privacy(value: str) -> str | None:
    """Reason for a US privacy string (version 1: notice, opt-out of sale, LSPA), or None."""
    if len(value) != 4 or value[0] != "1" or any(c not in "YN-" for c in value[1:]):
        return "us_privacy_bad_string"
    return "us_privacy" if value[2] == "Y" else None


def _gpp(value: str, sids: object) -> tuple[str | None, bool, str | None]:
    """(reason, tcf applies, tcf string) for a GPP string and its applicable section ids."""
    try:
        decoded = gpp.decode(value)
    except gpp.GPPError:
        return "gpp_bad_string", False, None
    applicable = [s for s in sids if isinstance(s, int)] if isinstance(sids, list) else list(decoded.sections)
    tcf_string: str | None = None
    for sid in applicable:
        section = decoded.sections.get(sid)
        if section is None:
            return "gpp_bad_string", False, None
        if sid == gpp.TCF_EU_V2:
            tcf_string = section
        elif sid == gpp.USP_V1:
            reason = _us_privacy(section)
            if reason == "us_privacy_bad_string":
                return "gpp_bad_string", False, None
            if reason is not None:
                return "gpp", False, None
        elif sid in (gpp.US_NAT, gpp.US_CA):
            try:
                opt_outs = gpp.us_opt_outs(sid, section)
            except gpp.GPPError:
                return "gpp_bad_string", False, None
            if opt_outs.any:
                return "gpp", False, None
        else:
            return "gpp_unsupported_section", False, None
    return None, tcf_string is not None, tcf_string


def decide(request: dict[str, Any], policy: ConsentPolicy = ConsentPolicy()) -> ConsentDecision:
    regs = _dict(request.get("regs"))
    regs_ext = _dict(regs.get("ext"))
    user = _dict(request.get("user"))
    if regs.get("coppa") == 1:
        return _DECISIONS["coppa"]
    if _dict(request.get("device")).get("lmt") == 1:
        return _DECISIONS["lmt"]
    if regs_ext.get("gpc") in ("1", 1):
        return _DECISIONS["gpc"]
    us_privacy = _pick(regs, regs_ext, "us_privacy")
    if isinstance(us_privacy, str) and us_privacy:
        reason = _us_privacy(us_privacy)
        if reason == "us_privacy" or (reason is not None and policy.block_invalid_us_privacy):
            return _DECISIONS[reason]
    gpp_string = _pick(regs, regs_ext, "gpp")
    gpp_tcf_applies, gpp_tcf = False, None
    if isinstance(gpp_string, str) and gpp_string:
        reason, gpp_tcf_applies, gpp_tcf = _gpp(gpp_string, _pick(regs, regs_ext, "gpp_sid"))
        if reason is not None:
            return _DECISIONS[reason]
    gdpr = _pick(regs, regs_ext, "gdpr")
    applies = gdpr == 1 or gpp_tcf_applies or (gdpr is None and policy.gdpr_unknown_applies)
    if not applies:
        signalled = (isinstance(us_privacy, str) and us_privacy != "") or (
            isinstance(gpp_string, str) and gpp_string != ""
        )
        return _ALLOWED_BY_SIGNALS if signalled else _NOTHING_APPLIES
    consent = _pick(user, _dict(user.get("ext")), "consent") or gpp_tcf
    if not isinstance(consent, str) or not consent:
        return _DECISIONS["gdpr_no_consent"]
    granted = _tcf_grants(consent)
    if granted is None:
        return _DECISIONS["gdpr_bad_string"]
    return _DECISIONS[ALLOWED if granted else "gdpr_no_consent"]


@lru_cache(maxsize=8192)
def _tcf_grants(consent: str) -> bool | None:
    """Whether a TCF string grants purposes 3 and 4; None when it does not decode.

    Cached: a user's consent string comes back with each of their bid requests, and decoding was
    a tenth of the endpoint's time.
    """
    try:
        return tcf.decode(consent).grants()
    except tcf.TCFError:
        return None
