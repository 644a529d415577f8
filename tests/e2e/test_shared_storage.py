"""Two machines (two contexts, two data directories, one database) share evidence through one S3 bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import DESK, Harness, build
from tests.e2e.test_api import png, token
from tests.s3server import MotoS3

from complaintdesk.app import create_app
from complaintdesk.core.media import service as media_service
from complaintdesk.core.media.models import MediaLink
from complaintdesk.errors import MediaMissing
from complaintdesk.jobs.archive import archive_media
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


class Machine:
    """A second install of the same desk: its own context, app and data directory."""

    def __init__(self, settings: Settings) -> None:
        self.ctx = AppContext(settings)
        self.app = create_app(ctx=self.ctx, run_jobs=False)
        self.desk = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=DESK)

    async def aclose(self) -> None:
        await self.desk.aclose()
        await self.app.state.writer.stop()
        await self.ctx.aclose()


def on(settings: Settings, data_dir: Path, media: dict[str, object]) -> Settings:
    return settings.model_copy(update={"data_dir": data_dir, "media": settings.media.model_validate(media)})


@pytest.fixture
async def machines(
    settings: Settings, tmp_path: Path, s3: MotoS3
) -> AsyncIterator[tuple[Harness, Machine, Machine]]:
    """Machine A (with the WeChat Pay simulator), machine B on the same bucket, machine C on local disk."""
    media = s3.settings(s3.new_bucket(), s3_prefix="desk").model_dump()
    a = await build(on(settings, tmp_path / "a", media), tmp_path / "a")
    b = Machine(on(settings, tmp_path / "b", media))
    c = Machine(on(settings, tmp_path / "c", {"storage": "local"}))
    yield a, b, c
    for machine in (b, c):
        await machine.aclose()
    await a.aclose()


async def test_an_image_archived_on_one_machine_is_served_by_the_other(
    machines: tuple[Harness, Machine, Machine], tmp_path: Path
) -> None:
    a, b, c = machines
    external = a.state.create_complaint(a.shop.mchid, images=2)
    await a.deliver()
    await a.process()
    assert await archive_media(a.ctx) == 2  # the job runs on machine A
    with a.ctx.session() as s:
        shas = sorted({link.sha256 for link in s.query(MediaLink) if link.sha256})
    assert len(shas) == 2, external
    headers = token(a, "ops", all_accounts=True)
    for sha in shas:
        served = await b.desk.get(f"/api/v1/media/{sha}", headers=headers)  # machine B's API
        assert served.status_code == 200 and served.headers["content-type"].startswith("image/")
        assert served.content == media_service.read_bytes(a.ctx.media_storage, sha)
        missing = await c.desk.get(f"/api/v1/media/{sha}", headers=headers)  # not shared: C cannot
        assert missing.status_code == 404
    assert not any((tmp_path / name / "media").exists() for name in ("a", "b"))


async def test_an_upload_to_one_machine_is_read_by_the_other(
    machines: tuple[Harness, Machine, Machine],
) -> None:
    a, b, c = machines
    headers = token(a, "ops", all_accounts=True)
    image = png(padding=300_000)
    files = {"file": ("p.png", image, "image/png")}
    uploaded = await b.desk.post("/api/v1/media", headers=headers, files=files)
    assert uploaded.status_code == 201
    sha = uploaded.json()["sha256"]
    assert media_service.read_bytes(a.ctx.media_storage, sha) == image
    with pytest.raises(MediaMissing):
        media_service.read_bytes(c.ctx.media_storage, sha)
