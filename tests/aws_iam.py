"""Which IAM actions an AWS call needs, and which a template role allows: moto checks no IAM, so
tests compare the calls a handler really made with its role in ``template.yaml``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.client

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"


# The IAM action each API operation needs, where its name is not the operation's own.
_IAM_ACTION = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
}
_TRANSACTION_ITEM_ACTION = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_actions(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    """What IAM must allow for one API call (a transaction needs each of its items' actions)."""
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        kinds = {kind for item in params["TransactItems"] for kind in item}
        return {f"dynamodb:{_TRANSACTION_ITEM_ACTION[kind]}" for kind in kinds}
    if (service, operation) == ("dynamodb", "TransactGetItems"):
        return {"dynamodb:GetItem"}
    return {_IAM_ACTION.get((service, operation), f"{service}:{operation}")}


def allowed_actions(role: dict[str, Any]) -> set[str]:
    allowed: set[str] = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            for branch in statement["Fn::If"][1:] if "Fn::If" in statement else [statement]:
                if isinstance(branch, dict) and branch.get("Effect") == "Allow":
                    actions = branch["Action"]
                    allowed.update(actions if isinstance(actions, list) else [actions])
    return allowed


def template_role(logical_id: str) -> dict[str, Any]:
    """A role resource of ``template.yaml`` as plain JSON types."""
    from cfnlint.decode import decode

    template, errors = decode(str(TEMPLATE_PATH))
    assert not errors and template is not None, [str(error) for error in errors]
    resource: dict[str, Any] = json.loads(json.dumps(template["Resources"][logical_id]))
    return resource


class CallWatch:
    """Records the IAM actions of every boto3 call made while ``as_role(role)`` is active
    (from any thread); the calls themselves go through unchanged."""

    def __init__(self) -> None:
        self.needed: dict[str, set[str]] = {}
        self._role: str | None = None
        self._lock = threading.Lock()

    @contextmanager
    def as_role(self, role: str) -> Iterator[None]:
        """Calls made meanwhile are the ones of the function with the template role ``role``."""
        self._role = role
        try:
            yield
        finally:
            self._role = None

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        role = self._role
        if role is not None:
            with self._lock:
                self.needed.setdefault(role, set()).update(iam_actions(service, operation, params))

    def wrap(self, make_api_call: Any) -> Any:
        def watched(client: Any, operation: str, params: dict[str, Any]) -> Any:
            self.record(client.meta.service_model.service_name, operation, params)
            return make_api_call(client, operation, params)

        return watched


def watch_calls(monkeypatch: Any) -> CallWatch:
    watch = CallWatch()
    monkeypatch.setattr(
        botocore.client.BaseClient, "_make_api_call", watch.wrap(botocore.client.BaseClient._make_api_call)
    )
    return watch
