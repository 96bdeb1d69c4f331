"""The JSON bodies the HTTP API takes, as msgspec types: /openapi.json's request schemas are
generated from them (msgspec's JSON Schema), so the document and the decoders cannot drift apart.

Validation itself stays with the domain (it names every bad field of a definition the way the CLI
does); these types describe the shape a client sends.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec


class SegmentMessage(msgspec.Struct, kw_only=True):
    """One Segment message (track, identify, page, screen, group, alias); unknown fields are kept."""

    type: str | None = None
    event: str | None = None
    userId: str | int | None = None
    anonymousId: str | int | None = None
    previousId: str | int | None = None
    messageId: str | None = None
    timestamp: str | None = None
    sentAt: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    writeKey: str | None = None


class SegmentBatch(msgspec.Struct, kw_only=True):
    """POST /v1/batch: up to the request size limit of messages, with a shared context."""

    batch: list[SegmentMessage]
    sentAt: str | None = None
    context: dict[str, Any] | None = None
    writeKey: str | None = None


class AssignRequest(msgspec.Struct, kw_only=True):
    """POST /v1/assign: the visitor (userId or anonymousId) and its targeting attributes."""

    userId: str | None = None
    anonymousId: str | None = None
    attributes: dict[str, Any] = {}
    writeKey: str | None = None


class Variation(msgspec.Struct, kw_only=True):
    key: str | None = None
    name: str | None = None
    value: Any = None


class ExperimentMetric(msgspec.Struct, kw_only=True):
    key: str
    kind: Literal["conversion", "count", "sum"] = "conversion"
    event: str | None = None
    property: str | None = None
    window_days: int | None = None
    inverse: bool = False
    cuped: bool = False


class ExperimentMetrics(msgspec.Struct, kw_only=True):
    primary: ExperimentMetric | None = None
    secondary: list[ExperimentMetric] = []
    guardrail: list[ExperimentMetric] = []


class ExperimentDefinition(msgspec.Struct, kw_only=True):
    """GrowthBook's experiment fields plus Headwater's ``status`` and ``metrics``."""

    key: str
    variations: list[Any]
    name: str | None = None
    weights: list[float] | None = None
    coverage: float = 1.0
    hashAttribute: str = "id"
    fallbackAttribute: str | None = None
    hashVersion: Literal[1, 2] = 2
    seed: str | None = None
    namespace: tuple[str, float, float] | None = None
    phase: str = "0"
    meta: list[Variation] | None = None
    condition: dict[str, Any] | None = None
    status: Literal["draft", "running", "stopped"] = "draft"
    metrics: ExperimentMetrics | None = None


class StartRequest(msgspec.Struct, kw_only=True):
    """POST /api/v1/experiments/{key}/start."""

    newPhase: bool = False
    seed: str | None = None


class PropertyFilter(msgspec.Struct, kw_only=True):
    property: str
    op: Literal["eq", "neq", "in", "gt", "lt", "contains", "exists"]
    value: Any = None


class EventRule(msgspec.Struct, kw_only=True):
    event: str
    where: list[PropertyFilter] = []
    min_count: int | None = None
    within_days: int | None = None
    not_within_days: int | None = None


class AudienceDefinition(msgspec.Struct, kw_only=True):
    """An audience: a rule over a user's events (``all`` / ``any`` of event rules, nested)."""

    id: str
    name: str | None = None
    rule: dict[str, Any]
    sendable_to_buyers: bool = False
    taxonomy_id: str | None = None  # an IAB Audience Taxonomy 1.1 id (segtax 4) ...
    proprietary_id: str | None = None  # ... or an id of our own (not both)


class MetricQuery(msgspec.Struct, kw_only=True):
    name: str
    start: str
    end: str
    tz: str | None = None
    options: dict[str, str | int] = {}


class MetricQueries(msgspec.Struct, kw_only=True):
    """POST /api/v1/dashboard/metrics: 1 to 40 metric queries answered at once."""

    queries: list[MetricQuery]


class LoginForm(msgspec.Struct, kw_only=True):
    """Either an email and a password, or the admin token."""

    email: str = ""
    password: str = ""
    token: str = ""


class NewUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An invitation: the user exists from now on, without a password until they accept."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    role: Literal["owner", "admin", "analyst", "viewer"]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class UserChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    role: Literal["owner", "admin", "analyst", "viewer"] | None = None
    disabled: bool | None = None
    reinvite: bool = False  # a new invitation (a forgotten password); earlier ones stop working


class NewToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: list[Literal["read", "experiments", "audiences", "admin", "metrics"]]


class WebhookSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A source's Segment webhook: the shared secret pasted into Segment (kept; shown masked), and
    whether to make a new per-source token (answered once, as token_value)."""

    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None
    token: bool = False


class Subject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    userId: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None
    anonymousId: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None


class RegulationRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Segment's Regulations API vocabulary (docs/privacy.md)."""

    type: Literal["SUPPRESS_WITH_DELETE", "SUPPRESS_ONLY", "DELETE_ONLY", "UNSUPPRESS", "ACCESS"]
    subject: Subject


class InvitationForm(msgspec.Struct, kw_only=True):
    invitation: str
    password: str
    confirm: str


class BidRequest(msgspec.Struct, kw_only=True):
    """An OpenRTB 2.5 / 2.6 BidRequest; every field is passed through unchanged."""

    id: str
    imp: list[dict[str, Any]]
    site: dict[str, Any] | None = None
    app: dict[str, Any] | None = None
    device: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    regs: dict[str, Any] | None = None
