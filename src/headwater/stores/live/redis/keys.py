"""Every Redis key name of a namespace, in one place (the Lua scripts of lua.py build the counters'
names from the same prefix).

Counters, distinct sets and checkpoints share the hash tag ``{<namespace>}``: one slot, so a batch
and its checkpoint commit in one script. Sticky documents, ids, memberships and stamps are tagged by
their user, id or audience, so a cluster spreads them over every master.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GLOB = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """``text`` as itself in a SCAN MATCH pattern (``* ? [ ] \\`` escaped)."""
    return _GLOB.sub(r"\\\1", text)


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str

    @property
    def prefix(self) -> str:
        """The counters' prefix: ``{ns}:`` (their hash tag)."""
        return "{" + self.namespace + "}:"

    def checkpoint(self, tailer: str) -> str:
        return self.prefix + "cp:" + tailer

    def counter(self, name: str) -> str:
        return self.prefix + "c:" + name

    def sticky(self, key: str) -> str:
        return f"{self.namespace}:sticky:{{{key}}}"

    def sticky_pattern(self, value: str) -> str:
        """Every sticky document of one hash value, whatever the attribute (``<attribute>||<value>``)."""
        return f"{glob_escape(self.namespace)}:sticky:{{*||{glob_escape(value)}}}"

    def sticky_document(self, name: str) -> str:
        """The document id (``<attribute>||<value>``) of a sticky document's key."""
        return name[len(self.namespace) + len(":sticky:{") : -1]

    def sticky_mark(self, tag: str = "") -> str:
        """The mark that the store vouches for the sticky documents (of one cluster slot: ``tag``
        is then a hash tag of that slot; standalone Redis has one mark, tagged like the counters)."""
        return f"{self.namespace}:sticky-restored:{{{tag or self.namespace}}}"

    def sticky_lock(self) -> str:
        return self.prefix + "sticky-restoring"

    def user(self, user: str) -> str:
        """A user's audiences and stamps, one hash (what the enrichment reads)."""
        return f"{self.namespace}:u:{{{user}}}"

    def audiences_format(self) -> str:
        return f"{self.namespace}:audiences-format:{{{self.namespace}}}"

    def audience_members(self, audience: str) -> str:
        return f"{self.namespace}:members:{{{audience}}}"

    def id_value(self, value: str) -> str:
        return f"{self.namespace}:hid:{{{value}}}"

    def membership_patterns(self) -> list[str]:
        """Every key of the audiences (and those of the older layout: aud, aev), and the format mark."""
        ns = self.namespace
        return [f"{ns}:u:*", f"{ns}:members:*", f"{ns}:aud:*", f"{ns}:aev:*", f"{ns}:audiences-format:*"]

    def id_map_pattern(self) -> str:
        return f"{self.namespace}:hid:*"
