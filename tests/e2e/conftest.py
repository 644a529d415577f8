from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.e2e.harness import Harness, build

from complaintdesk.settings import Settings


@pytest.fixture
async def wx(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await build(settings, tmp_path)
    yield harness
    await harness.aclose()
