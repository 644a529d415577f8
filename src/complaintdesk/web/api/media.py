"""Upload evidence into the archive and read archived images."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import or_

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.errors import ActionRefused, NotFound
from complaintdesk.web.api.deps import CtxDep, ScopeDep, SessionDep, WriterDep
from complaintdesk.web.api.schemas import MediaOut

router = APIRouter(tags=["media"])


@router.post("/media", response_model=MediaOut, status_code=201, summary="Upload an image (JPG, PNG, BMP)")
async def upload(
    file: UploadFile, request: Request, session: SessionDep, scope: WriterDep, ctx: CtxDep
) -> MediaOut:
    data = await file.read(media_service.MAX_UPLOAD_BYTES + 1)
    if len(data) > media_service.MAX_UPLOAD_BYTES:
        raise ActionRefused(
            f"the file exceeds {media_service.MAX_UPLOAD_BYTES // 1024 // 1024} MB", field="file"
        )
    stored = await asyncio.to_thread(  # the store may be a remote bucket: keep the event loop free
        media_service.store_upload,
        session=session,
        storage=ctx.media_storage,
        data=data,
        uploader=media_service.Uploader(f"token:{scope.name}", scope.all_accounts, scope.account_ids),
    )
    return MediaOut(
        sha256=stored.sha256,
        content_type=stored.content_type,
        size=stored.size,
        url=f"/api/v1/media/{stored.sha256}",
    )


@router.get("/media/{sha256}", summary="An archived image", response_class=Response)
def download(sha256: str, session: SessionDep, scope: ScopeDep, ctx: CtxDep) -> Response:
    record = media_service.get_file(session=session, sha256=sha256)
    ids = list(scope.account_ids)
    in_scope = (
        None
        if scope.all_accounts
        else or_(Complaint.account_id.in_(ids), Complaint.merchant_account_id.in_(ids))
    )
    if not media_service.visible(session=session, sha256=sha256, complaint_filter=in_scope):
        raise NotFound("no such image in the archive")
    data = media_service.read_bytes(ctx.media_storage, sha256)
    return Response(
        data,
        media_type=record.content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
