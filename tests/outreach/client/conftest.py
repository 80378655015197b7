"""Fixtures of the Outreach client tests."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse
from yarl import URL


class _CompatResponse(ClientResponse):
    """aiohttp 3.14 made ``stream_writer`` a required argument that aioresponses 0.7.9 does not
    pass (pnuckowski/aioresponses#289); give it a finished writer until a release fixes it."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_on_aiohttp_314(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build aioresponses' fake responses with the compatible class."""
    monkeypatch.setattr(aioresponses.core, "ClientResponse", _CompatResponse)
