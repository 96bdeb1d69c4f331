"""Targeting domain: OpenRTB validation, consent gates, audience rules and enrichment.

Pure code: no framework, no driver. The HTTP endpoint and the stores plug in through
`lookup.AudienceLookup` and `pipeline.enrich_body`.
"""
