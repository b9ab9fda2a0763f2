"""Response shapes, for the OpenAPI document only: routes build plain dicts (the job service's
status document) and return them as they are, without a second validation pass."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ProgressDoc(BaseModel):
    stage: str = Field(description="queued, fetching, speech, mixing, encoding, storing, notifying, done")
    percent: float = Field(ge=0, le=100)


class AudioDoc(BaseModel):
    integratedLufs: float | None = Field(description="integrated loudness, LUFS (ITU-R BS.1770-4)")
    truePeakDbtp: float | None = Field(description="true peak, dBTP (4x oversampled)")
    loudnessRange: float | None = Field(description="loudness range, LU (EBU Tech 3342)")
    targetLufs: float | None = Field(description="the spec's output.loudness target; null when none")


class CaptionDoc(BaseModel):
    format: str = Field(description="srt or vtt")
    language: str
    url: str | None = Field(description="signed, time-limited download URL")
    urlExpiresAt: str | None
    s3Uri: str | None = Field(description="s3://bucket/key on AWS; null for local storage")


class OutputDoc(BaseModel):
    url: str | None = Field(description="signed, time-limited download URL (S3_PRESIGNED_URL_EXPIRATION)")
    urlExpiresAt: str | None
    s3Uri: str | None = Field(description="s3://bucket/key on AWS; null for local storage")
    duration: float | None = Field(description="seconds")
    size: int | None = Field(description="bytes")
    audio: AudioDoc | None = Field(description="the output's measured loudness; null until completed")
    captions: list[CaptionDoc] = Field(description="sidecar subtitle files beside the MP4")


class WarningDoc(BaseModel):
    code: str = Field(description="stable identifier, e.g. speech_cut_at_end")
    message: str = Field(description="what happened, naming the event or asset")


class WebhookDoc(BaseModel):
    status: Literal["pending", "delivered", "refused", "failed", "skipped"] = Field(
        description="pending (not sent yet), delivered (a 2xx), refused (the receiver answered 3xx/4xx "
        "or the URL is not allowed; not retried), failed (5xx, timeouts or connection errors on every "
        "attempt), skipped (cancelled jobs send none)"
    )
    attempts: int = Field(description="requests made (at most 3)")
    lastStatusCode: int | None = Field(description="HTTP status of the last answer; null when none came")
    reason: str | None = Field(description="why it was not delivered (or why it is pending)")
    deliveredAt: str | None = Field(description="when the receiver accepted it (ISO 8601 UTC)")
    lastAttemptAt: str | None = Field(description="when the last request was made")


class StatusDoc(BaseModel):
    jobId: str
    status: str = Field(description="submitted, processing, retrying, completed, failed or cancelled")
    statusReason: str | None = Field(
        description="why a job is retrying: the last attempt's error, a worker that shut down and "
        "gave the job back, or a worker that stopped (the job starts over); null otherwise"
    )
    submittedAt: str
    updatedAt: str
    completedAt: str | None
    processingTime: float | None = Field(description="seconds, 2 decimals")
    progress: ProgressDoc
    output: OutputDoc
    error: str | None
    jobInfo: dict[str, Any] | None
    warnings: list[WarningDoc] = Field(description="what the render changed or dropped")
    webhook: WebhookDoc | None = Field(description="the webhook's delivery; null when the spec has none")


class JobListDoc(BaseModel):
    jobs: list[StatusDoc]
    nextCursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class UploadDoc(BaseModel):
    source: str = Field(description="the value to put in a spec's asset 'source'")
    uri: str | None = Field(description="s3:// URI on AWS; null for local storage")
    size: int = Field(description="bytes")
    sha256: str


class UploadUrlDoc(BaseModel):
    source: str = Field(description="the value to put in a spec's asset 'source' once uploaded")
    uri: str | None = Field(description="s3:// URI of the object")
    uploadUrl: str = Field(description="pre-signed URL: PUT the file's bytes to it")
    method: str = Field(description="always PUT")
    headers: dict[str, str] = Field(description="headers the PUT must carry")
    expiresAt: str = Field(description="when the URL stops working (ISO 8601 UTC)")


class HealthDoc(BaseModel):
    status: str
    version: str
    backend: str


class ErrorDetailDoc(BaseModel):
    path: str = Field(description="JSON path of the field, e.g. timeline[2].data.assetId")
    message: str


class ValidationErrorDoc(BaseModel):
    error: str = "Validation failed"
    details: list[ErrorDetailDoc]


class NotFoundDoc(BaseModel):
    error: str = "Job not found"
    jobId: str | None


class MessageDoc(BaseModel):
    message: str = Field(description="'Forbidden' (403) or 'Too Many Requests' (429)")


class ForbiddenLinkDoc(BaseModel):
    message: str = "Forbidden"
    reason: str = Field(description="bad signature, expired link or no such file")


class ErrorDoc(BaseModel):
    error: str
    message: str | None = None
    requestId: str | None = None


# Answers any route may give, added to every operation of the document (``app.py``).
VALIDATION_RESPONSE: dict[str, Any] = {
    "model": ValidationErrorDoc,
    "description": "a parameter or the body is invalid; each detail names the field",
}
UNAVAILABLE_RESPONSE: dict[str, Any] = {
    "model": ErrorDoc,
    "description": "a store is briefly unavailable; retry after the Retry-After header's seconds",
}

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": MessageDoc, "description": "missing, unknown or revoked X-API-Key"},
    429: {
        "model": MessageDoc,
        "description": "over the key's usage plan; retry after the Retry-After header's seconds",
    },
    500: {"model": ErrorDoc, "description": "internal error; the requestId finds it in the server log"},
}
