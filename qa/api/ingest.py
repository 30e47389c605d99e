"""``POST /v1/ingest``: uploaded files go through the Library tab's own steps (:mod:`qa.ui.library`: the same
types, the same ``NEWSQA_UPLOAD_MAX_MB`` per file, copied into ``<data>/uploads`` where no upload replaces
another, one result per file), so the API and the chat take exactly the same uploads.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import UploadFile

from index.ingest import Ingestor
from qa.api.auth import ASGIApp, Receive, Scope, Send, error_json
from qa.api.models import FileOut, IngestOut
from qa.ui.library import FileResult, ingest_uploads, safe_name, skipped_types, upload_summary

MB = 1024 * 1024
MAX_FILES = 100  # files per request; a larger batch is sent in several requests
_COPY_BLOCK = 1024 * 1024


def _receive(upload: UploadFile, target: Path, limit: float) -> bool:
    """Copy an upload to ``target``; False (and nothing kept) as soon as it exceeds ``limit`` bytes."""
    written = 0
    with target.open("wb") as out:
        while block := upload.file.read(_COPY_BLOCK):
            written += len(block)
            if written > limit:
                break
            out.write(block)
    if written > limit:
        target.unlink()
        return False
    return True


def save_uploads(ingestor: Ingestor, uploads: list[UploadFile]) -> tuple[IngestOut, bool]:
    """Ingest the uploads as the Library tab does; the per-file results, and whether any file was taken
    (added, or found already stored)."""
    max_mb = ingestor.settings.upload_max_mb
    folder = Path(tempfile.mkdtemp(prefix="newsqa-upload-"))
    too_large: list[FileResult] = []
    try:
        paths: list[Path] = []
        for number, upload in enumerate(uploads):
            place = folder / str(number)  # one folder each: two uploads of one name stay apart
            place.mkdir()
            path = place / safe_name(upload.filename or "upload")
            if _receive(upload, path, max_mb * MB):
                paths.append(path)
            else:  # the Library tab's check, without storing the rest of the file
                too_large.append(
                    FileResult(path.name, "refused", f"too large (limit {max_mb:g} MB per file)")
                )
        results, report = ingest_uploads(ingestor, paths, progress=False) if paths else ([], None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    files = [_file_out(result) for result in too_large + results]
    summary = upload_summary(too_large + results, report)
    taken = any(f.result not in ("refused", "failed") for f in files)
    ok = report is not None and report.ok and not any(f.result == "refused" for f in files)
    return IngestOut(ok=ok, summary=summary, files=files, skipped=dict(skipped_types(results))), taken


def _file_out(result: FileResult) -> FileOut:
    return FileOut(file=result.name, result=result.result, details=result.details)


class UploadLimit:
    """Answer 413 before reading an upload whose declared size (``Content-Length``) exceeds what
    ``/v1/ingest`` could accept: ``MAX_FILES`` files of the largest allowed size."""

    def __init__(self, app: ASGIApp, max_mb: float) -> None:
        self.app = app
        self.max_mb = max_mb
        self.max_bytes = MAX_FILES * max_mb * MB + MB  # and the form's own bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] == "http" and scope.get("path") == "/v1/ingest":
            length = dict(scope.get("headers") or []).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.max_bytes:
                message = (
                    f"the upload is {int(length) / MB:.0f} MB: send at most {MAX_FILES} files of at most "
                    f"{self.max_mb:g} MB each (NEWSQA_UPLOAD_MAX_MB) per request"
                )
                body = error_json(413, message, "upload_too_large")
                start = {"type": "http.response.start", "status": 413,
                         "headers": [(b"content-type", b"application/json")]}  # fmt: skip
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
