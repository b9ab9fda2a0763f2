"""A small HTTP client for the autovid API (used by ``autovid submit|status``, the demo, tests and
benchmarks): submit, status, wait with progress, cancel, upload, download.

A 429 is waited out (its ``Retry-After``) up to ``max_throttle_wait_s``; every other error becomes
an ``ApiError`` carrying the status code and the server's JSON answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from autovid.errors import AutovidError

TERMINAL = ("completed", "failed", "cancelled")
BATCH_ENDED = ("completed", "failed", "cancelled")
_CHUNK_BYTES = 1024 * 1024


class ApiError(AutovidError):
    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class AutovidClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float = 30.0,
        max_throttle_wait_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self._max_throttle_wait_s = max_throttle_wait_s
        self._sleep = sleep

    def __enter__(self) -> AutovidClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- routes --------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def submit(self, spec: dict[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/submit", json=spec, headers=headers)

    def status(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/status/{job_id}")

    def list(
        self, *, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/jobs", params=params)

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id}/cancel")

    def upload(self, path: Path, *, filename: str | None = None) -> dict[str, Any]:
        """Stream a local file to ``POST /assets``; returns ``{"source": "assets/…", …}``."""
        size = path.stat().st_size

        def chunks() -> Any:
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK_BYTES):
                    yield chunk

        return self._call(
            "POST",
            "/assets",
            params={"filename": filename or path.name},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            content_factory=chunks,
        )

    # --- templates and batches ------------------------------------------------------------------

    def create_template(self, document: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/templates", json=document)

    def list_templates(self, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return self._call("GET", "/templates", params=params)

    def template(self, template_id: str, *, version: int | None = None) -> dict[str, Any]:
        params = {"version": version} if version is not None else None
        return self._call("GET", f"/templates/{template_id}", params=params)

    def replace_template(self, template_id: str, document: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/templates/{template_id}", json=document)

    def delete_template(self, template_id: str) -> None:
        self._call("DELETE", f"/templates/{template_id}")

    def render_template(
        self, template_id: str, variables: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call(
            "POST", f"/templates/{template_id}/render", json={"variables": variables}, headers=headers
        )

    def submit_batch_csv(
        self, template_id: str, csv_text: str, *, dry_run: bool = False, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """``POST /batches`` with a CSV body: the header row names the template's variables."""
        headers = {
            "Content-Type": "text/csv",
            **({"Idempotency-Key": idempotency_key} if idempotency_key else {}),
        }
        params = {"templateId": template_id, "dryRun": str(dry_run).lower()}
        return self._call("POST", "/batches", params=params, content=csv_text.encode(), headers=headers)

    def submit_batch(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/batches", json=body, headers=headers)

    def batch(self, batch_id: str, *, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return self._call("GET", f"/batches/{batch_id}", params=params)

    def batch_rows(self, batch_id: str) -> list[dict[str, Any]]:
        """Every row of the batch, page after page."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.batch(batch_id, limit=1000, cursor=cursor)
            rows += page["rows"]
            cursor = page["nextCursor"]
            if not cursor:
                return rows

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return self._call("POST", f"/batches/{batch_id}/cancel")

    def retry_batch(self, batch_id: str) -> dict[str, Any]:
        return self._call("POST", f"/batches/{batch_id}/retry")

    def wait_batch(
        self,
        batch_id: str,
        *,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll (one row per page: the counts are what matters) until every row has ended."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            doc = self.batch(batch_id, limit=1)
            if on_status is not None:
                on_status(doc)
            if doc["status"] in BATCH_ENDED:
                return doc
            if deadline is not None and time.monotonic() > deadline:
                raise ApiError(f"batch {batch_id} still {doc['status']} after {timeout_s:g} s")
            self._sleep(poll_s)

    # --- helpers -------------------------------------------------------------------------------

    def wait(
        self,
        job_id: str,
        *,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is completed, failed or cancelled; returns the last status."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            doc = self.status(job_id)
            if on_status is not None:
                on_status(doc)
            if doc["status"] in TERMINAL:
                return doc
            if deadline is not None and time.monotonic() > deadline:
                raise ApiError(f"job {job_id} still {doc['status']} after {timeout_s:g} s")
            self._sleep(poll_s)

    def download(self, url: str, dest: Path) -> Path:
        """Fetch a signed output URL (no API key needed) into ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        try:
            with httpx.stream("GET", url, timeout=self._http.timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise _error(response)
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(_CHUNK_BYTES):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise ApiError(f"cannot download {url.split('?')[0]}: {exc}") from exc
        partial.replace(dest)
        return dest

    def _call(
        self, method: str, path: str, *, content_factory: Callable[[], Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        waited_s = 0.0
        while True:
            if content_factory is not None:
                kwargs["content"] = content_factory()  # a fresh stream for every attempt
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise ApiError(f"cannot reach {self.base_url}: {exc}") from exc
            if response.status_code == 429:
                delay_s = _retry_after_s(response)
                if waited_s + delay_s <= self._max_throttle_wait_s:
                    self._sleep(delay_s)
                    waited_s += delay_s
                    continue
            if response.status_code >= 400:
                raise _error(response)
            if response.status_code == 204:
                return {}
            result: dict[str, Any] = response.json()
            return result


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _error(response: httpx.Response) -> ApiError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    return ApiError(describe_error(response.status_code, body), status_code=response.status_code, body=body)


def describe_error(status_code: int, body: Any) -> str:
    """One readable line (plus details) for an error answer."""
    if status_code == 403:
        return "403 Forbidden: the API key is missing, unknown or revoked (set AUTOVID_API_KEY)"
    if status_code == 429:
        return "429 Too Many Requests: the key's usage plan is exhausted for now"
    if not isinstance(body, dict):
        return f"HTTP {status_code}: {body}"
    text = f"HTTP {status_code}: {body.get('error') or body.get('message') or body}"
    if body.get("message") and body.get("error"):
        text += f": {body['message']}"
    for detail in body.get("details") or []:
        text += f"\n  {detail.get('path')}: {detail.get('message')}"
    if body.get("requestId"):
        text += f" (request id {body['requestId']})"
    return text


def upload_local_sources(
    client: AutovidClient,
    spec: dict[str, Any],
    base_dir: Path,
    *,
    on_upload: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """A copy of ``spec`` whose local file sources (relative to ``base_dir``) are uploaded and
    replaced by the URIs the server returned. Sources that are URIs, or paths that do not exist
    here (keys already in managed storage), are left alone."""
    uploaded: dict[Path, str] = {}
    assets = dict(spec.get("assets") or {})
    entries = [assets["video"]] if isinstance(assets.get("video"), dict) else []
    entries += [a for a in assets.get("audio") or [] if isinstance(a, dict)]
    replaced: dict[int, dict[str, Any]] = {}
    for entry in entries:
        source = entry.get("source")
        if not isinstance(source, str) or "://" in source:
            continue
        path = (base_dir / source).resolve()
        if not path.is_file():
            continue
        if path not in uploaded:
            if on_upload is not None:
                on_upload(path)
            uploaded[path] = client.upload(path)["source"]
        replaced[id(entry)] = {**entry, "source": uploaded[path]}
    if isinstance(assets.get("video"), dict):
        assets["video"] = replaced.get(id(assets["video"]), assets["video"])
    if isinstance(assets.get("audio"), list):
        assets["audio"] = [replaced.get(id(a), a) for a in assets["audio"]]
    return {**spec, "assets": assets} if "assets" in spec else dict(spec)
