"""The JSON API (``/api/v1``), described by OpenAPI at ``/docs`` and ``/openapi.json``."""

from fastapi import APIRouter

from complaintdesk.web.api import complaints, media, reports

router = APIRouter(prefix="/api/v1")
router.include_router(complaints.router)
router.include_router(media.router)
router.include_router(reports.router)
