"""The audiences' state in the live store: the id map and the membership (with each user's stamps),
two ports of the same backend, opened together with one caller's timeouts."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.stores.live.ports import IdMap, LiveBackend, Membership, StoreOptions


@dataclass(frozen=True, slots=True)
class AudienceState:
    ids: IdMap
    membership: Membership

    @classmethod
    def open(cls, live: LiveBackend, options: StoreOptions) -> AudienceState:
        return cls(live.id_map(options), live.membership(options))

    async def aclose(self) -> None:
        await self.membership.aclose()

    def close(self) -> None:
        self.ids.close()
        self.membership.close()
