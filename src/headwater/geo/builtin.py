"""The built-in country lookup: the ``iptocc`` package, the five Regional Internet Registries'
delegation files (which country each block of addresses is assigned to) compiled into a Rust
extension that ships its data; a new release every night, so ``make upgrade`` takes fresh data.

An allocation is where a block is registered, not where each address is used: it agrees with
commercial geolocation for about 95 % of IPv4 addresses (the package's own figure), less for
mobile carriers and VPNs that span borders. It knows no region: configure a City database for
those (headwater.geo.mmdb). A lookup costs about 0.2 us; the data is the extension's pages.
"""

from __future__ import annotations

from typing import Any

from headwater.events.geo import Place

#: registry codes that name no country: RIPE's "EU" (a block used across Europe), APNIC's "AP",
#: "ZZ" (reserved or unknown)
NOT_COUNTRIES = frozenset({"EU", "AP", "ZZ"})


class BuiltinCountries:
    """Country (ISO 3166-1 alpha-2) of an address from the registries' allocations; no region."""

    description = "built-in country lookup (iptocc, the registries' allocations)"

    def __init__(self) -> None:
        from iptocc import country_code

        self._country_code = country_code

    def lookup(self, ip: str) -> Place:
        code = self._country_code(ip)
        if code is None or code in NOT_COUNTRIES:
            return None, None
        return code, None

    def __reduce__(self) -> tuple[Any, ...]:  # to an import's worker processes: nothing to carry
        return (BuiltinCountries, ())
