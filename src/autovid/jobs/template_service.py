"""Stored templates: create, read, list, new versions, delete, and rendering one set of variables.

Used by the HTTP API; knows only the ports. A template is checked in full (``parse_template``)
before it is stored, so a stored template always parses.
"""

from __future__ import annotations

import uuid
from typing import Any

from autovid.errors import ErrorDetail, SpecError, TemplateNotFoundError
from autovid.jobs.batch_model import StoredTemplate
from autovid.jobs.model import Job, utcnow
from autovid.jobs.service import JobService
from autovid.ports import TemplateStore
from autovid.templates import Template, parse_template, validate_row


class TemplateService:
    def __init__(self, store: TemplateStore, jobs: JobService) -> None:
        self.store = store
        self.jobs = jobs

    def create(self, document: dict[str, Any], *, owner: str) -> StoredTemplate:
        self.check(document)
        now = utcnow()
        template = StoredTemplate(str(uuid.uuid4()), owner, 1, document, created_at=now, updated_at=now)
        return self.store.create(template)

    def get(self, template_id: str, *, owner: str, version: int | None = None) -> StoredTemplate:
        template = self.store.get(owner, template_id, version=version)
        if template is None:
            which = f" version {version}" if version is not None else ""
            raise TemplateNotFoundError(f"template '{template_id}'{which} not found")
        return template

    def list(
        self, *, owner: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[StoredTemplate], str | None]:
        if not 1 <= limit <= 100:
            raise SpecError([ErrorDetail("limit", "must be between 1 and 100")])
        return self.store.list(owner, limit=limit, cursor=cursor)

    def replace(self, template_id: str, document: dict[str, Any], *, owner: str) -> StoredTemplate:
        """A new version; batches already submitted keep rendering the version they were given."""
        self.get(template_id, owner=owner)
        self.check(document)
        return self.store.put_version(owner, template_id, document)

    def delete(self, template_id: str, *, owner: str) -> None:
        if not self.store.delete(owner, template_id):
            raise TemplateNotFoundError(f"template '{template_id}' not found")

    def check(self, document: dict[str, Any]) -> Template:
        return parse_template(document, self.jobs.settings.spec_limits)

    def parsed(self, template: StoredTemplate) -> Template:
        return self.check(template.document)

    def render(
        self,
        template_id: str,
        variables: dict[str, Any],
        *,
        owner: str,
        idempotency_key: str | None = None,
    ) -> Job:
        """One job from the latest version and ``variables`` (``RowError`` names each variable at
        fault), submitted like ``POST /submit``."""
        template = self.parsed(self.get(template_id, owner=owner))
        settings = self.jobs.settings
        raw, _ = validate_row(
            template, variables, limits=settings.spec_limits, allow_private=settings.allow_private_urls
        )
        return self.jobs.submit(raw, owner=owner, idempotency_key=idempotency_key)
