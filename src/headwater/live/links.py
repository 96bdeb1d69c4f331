"""Identity links for the live counts: an anonymous id linked to a user counts as that user.

The rule is the realtime store's (headwater.realtime.fold): an event with both a userId and an
anonymousId links ``anon:<anonymousId>`` to the user, an alias links its previousId; the first
link of a key wins; a user id aliased away takes the keys that pointed at it along. Links made
before the live window (older than the log the tailer reads) come from the realtime store, asked
once per key (``lookup``), so a user who signed up last month and browses logged out today counts
once: the links known at the time of counting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from headwater.events.identity import ANON_PREFIX, clean_id

Lookup = Callable[[Sequence[str]], Mapping[str, str]]
MAX_KEYS = 2_000_000  # keys known (linked or checked) before the book forgets and asks again


class LinkBook:
    def __init__(self, lookup: Lookup | None = None, max_keys: int = MAX_KEYS) -> None:
        self.lookup = lookup
        self.max_keys = max_keys
        self.ids: dict[str, str] = {}  # key -> its user
        self.checked: set[str] = set()  # keys whose stored link (or its absence) is known

    def resolve(self, key: str) -> str:
        return self.ids.get(key, key)

    def learn(self, keys: set[str], asserted: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Ask the store about the batch's new keys (its actors and link sources), then learn the
        links the batch asserts, (source, user) in log order (:func:`asserted_links`); the links
        learned, (source, user): the counts of their sources move to their users."""
        if len(self.checked) > self.max_keys:
            self.ids.clear()
            self.checked.clear()
        unknown = list(keys - self.checked)
        if unknown and self.lookup is not None:
            self.ids.update(self.lookup(unknown))
        self.checked.update(unknown)
        made: list[tuple[str, str]] = []
        for source, user in asserted:
            self._link(source, user, made)
        return made

    def _link(self, source: str, user: str, made: list[tuple[str, str]]) -> None:
        ids = self.ids
        if source in ids or source == user:
            return  # the first link wins
        target = ids.get(user, user)
        if target == source:
            return  # would close a cycle
        if not source.startswith(ANON_PREFIX):  # a user id aliased away: keys pointing at it follow
            for key, value in list(ids.items()):
                if value == source:
                    ids[key] = target
        ids[source] = target
        self.checked.add(source)
        made.append((source, target))


def asserted_links(
    user: str, anon_key: str | None, ev_type: str, previous_id: object
) -> list[tuple[str, str]]:
    """The links one event with a (clean) userId asserts: its anonymous id's, an alias's previousId."""
    out = [] if anon_key is None else [(anon_key, user)]
    if ev_type == "alias":
        previous = clean_id(previous_id)
        if previous is not None and previous != user:
            out += [(ANON_PREFIX + previous, user), (previous, user)]
    return out
