"""Presets hot reload: notice an edited preset file, validate it, swap it in atomically.

The watcher polls the file's (mtime, size, inode) every ``presets_poll_s`` (1 s by default, so
an edit is live within 2 s) and compares a content hash, so that an editor's
write-then-rename and a clock that does not move both count. A new version is loaded and
validated completely before one reference assignment makes it ``current``: an event is always
processed with one whole preset, never a half-loaded one (docs/reliability.md P35). A bad
edit keeps the last good preset; ``last_error`` says why, and the logs, the
``leadgate_preset_error`` metric and ``GET /inspector/api/presets`` show it until a good version
arrives.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadgate.errors import PresetError
from leadgate.observability.logging import get_logger
from leadgate.observability.metrics import PRESET_ERROR, PRESET_RELOADS
from leadgate.pipeline.presets import Preset, load_preset

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Stamp:
    mtime_ns: int
    size: int
    inode: int


def _stamp(path: Path) -> _Stamp | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return _Stamp(stat.st_mtime_ns, stat.st_size, stat.st_ino)


class PresetReloader:
    """The live version of one preset file."""

    def __init__(
        self,
        path: Path,
        *,
        loader: Callable[[Path], Preset] = load_preset,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._loader = loader
        self._clock = clock
        self._stamp = _stamp(path)
        self._digest = self._read_digest()
        self._current = loader(path)  # the first load must succeed: a bad file stops start-up
        self.loaded_at = clock()
        self.reloads = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    @property
    def current(self) -> Preset:
        """The preset to process the next event with."""
        return self._current

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    def reload_if_changed(self) -> bool:
        """Load the file again if it changed; True when a new version became ``current``."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        digest = self._read_digest()
        if digest is None:
            self._fail(f"{self.path}: cannot read the file (kept the last good version)")
            return False
        if digest == self._digest and self.last_error is None:
            return False
        try:
            preset = self._loader(self.path)
        except PresetError as exc:
            self._digest = digest
            self._fail("\n".join(exc.errors))
            return False
        except (OSError, ValueError) as exc:
            self._digest = digest
            self._fail(f"{self.path}: {exc}")
            return False
        self._current = preset
        self._digest = digest
        self.loaded_at = self._clock()
        self.reloads += 1
        self.last_error = None
        self.last_error_at = None
        PRESET_RELOADS.labels(result="ok").inc()
        PRESET_ERROR.labels(preset=self.path.name).set(0)
        log.info("presets.reload.success", path=str(self.path), preset=preset.name)
        return True

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = self._clock()
        PRESET_RELOADS.labels(result="error").inc()
        PRESET_ERROR.labels(preset=self.path.name).set(1)
        log.error(
            "presets.reload.error",
            path=str(self.path),
            error=message,
            kept=self._current.name,
        )

    def status(self) -> dict[str, Any]:
        """What ``GET /inspector/api/presets`` shows for this file."""
        return {
            "path": str(self.path),
            "name": self._current.name,
            "integration": self._current.integration,
            "loadedAt": self.loaded_at,
            "reloads": self.reloads,
            "lastError": self.last_error,
            "lastErrorAt": self.last_error_at,
            "preset": self._current.model_dump(mode="json"),
        }

    async def watch(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Poll until ``stop`` is set."""
        while not stop.is_set():
            # a file read and a YAML parse of a small file: cheap enough for the event loop
            self.reload_if_changed()
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                continue


class PresetsHolder:
    """All configured preset files; the first is the one events are processed with."""

    def __init__(self, paths: Sequence[Path], **kwargs: Any) -> None:
        if not paths:
            raise PresetError(["no preset file configured (pipeline.presets)"])
        self.reloaders = [PresetReloader(Path(path), **kwargs) for path in paths]

    @property
    def current(self) -> Preset:
        """The live preset of the first file."""
        return self.reloaders[0].current

    def get(self, name: str | None) -> Preset:
        """The live preset with this name (or file stem); the first when ``name`` is None."""
        if name is None:
            return self.current
        for reloader in self.reloaders:
            if name in (reloader.current.name, reloader.path.stem):
                return reloader.current
        raise KeyError(name)

    def reload_if_changed(self) -> bool:
        """Reload every changed file; True when any new version became current."""
        return any([reloader.reload_if_changed() for reloader in self.reloaders])

    def status(self) -> list[dict[str, Any]]:
        """Each file's status."""
        return [reloader.status() for reloader in self.reloaders]

    async def watch(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Poll every file until ``stop`` is set."""
        await asyncio.gather(*(r.watch(stop, interval_s) for r in self.reloaders))
