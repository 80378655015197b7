"""The profiles of one processor batch: read from the store once, updated as the batch goes,
and the changed ones written back together."""

from __future__ import annotations

from leadgate.domain.profile import Profile
from leadgate.pipeline.identity import merge_profiles
from leadgate.store.base import StateStore


class BatchProfiles:
    """The profiles of one batch's identities: read once, updated as the batch goes, and the
    changed ones written back together."""

    def __init__(self, store: StateStore, read: set[str], profiles: dict[str, Profile]) -> None:
        self._store = store
        self._read = read
        self._profiles = profiles
        self.changed: dict[str, Profile] = {}

    async def snapshot(self, keys: tuple[str, ...]) -> Profile:
        """The merged profile of these keys as the batch has left it so far."""
        profiles = self._profiles
        missing = [k for k in keys if k not in profiles and k not in self._read]
        if missing:  # a key the batch read did not foresee: read it now
            self._read.update(missing)
            profiles.update(await self._store.get_profiles(missing))
        return merge_profiles([profiles.get(k) for k in keys])

    def update(self, keys: tuple[str, ...], profile: Profile) -> None:
        """Store ``profile`` under every key, for the rest of the batch and the write-back."""
        for key in keys:
            self._profiles[key] = profile
            self.changed[key] = profile
