"""The inline custom resource that lower-cases the stack name for the S3 bucket name.

Its code is taken from template.yaml and run against a real HTTP server on 127.0.0.1 standing in
for CloudFormation's pre-signed response URL.
"""

from __future__ import annotations

import json
import re
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# S3 general purpose bucket names: 3-63 characters, lower-case letters, digits, dots and hyphens,
# starting and ending with a letter or digit.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ACCOUNT_ID = "123456789012"


class ResponseRecorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(
            {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def response_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Recorder", (ResponseRecorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/response?X-Amz-Signature=abc", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def naming_module(sam_template: dict[str, Any]) -> types.ModuleType:
    code = sam_template["Resources"]["StackNamingFunction"]["Properties"]["Code"]["ZipFile"]
    assert len(code) <= 4096, "CloudFormation's inline ZipFile code is limited to 4096 characters"
    module = types.ModuleType("index")
    exec(compile(code, "template.yaml:StackNamingFunction", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def naming_properties(sam_template: dict[str, Any]) -> dict[str, str]:
    """StackNaming's properties as CloudFormation sends them, for a given account."""
    template_props = sam_template["Resources"]["StackNaming"]["Properties"]
    assert template_props["BucketSuffix"] == {"Fn::Sub": "-${AWS::AccountId}"}
    return {"BucketPrefix": template_props["BucketPrefix"], "BucketSuffix": f"-{ACCOUNT_ID}"}


def event(request_type: str, response_url: str, properties: dict[str, str], **extra: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/AutoVid/abc",
        "RequestId": "req-1",
        "LogicalResourceId": "StackNaming",
        "ResourceType": "Custom::StackNaming",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:...", **properties},
        **extra,
    }


def test_create_lower_cases_the_stack_name(
    naming_module: types.ModuleType,
    naming_properties: dict[str, str],
    response_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_server
    naming_module.handler(event("Create", url, {**naming_properties, "StackName": "AutoVid-Prod"}), None)
    (response,) = received
    assert response["path"] == "/response?X-Amz-Signature=abc"
    assert response["content_type"] == ""  # the pre-signed URL was signed without one
    body = response["body"]
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {
        "StackNameLower": "autovid-prod",
        "BucketName": f"auto-vid-s3-bucket-autovid-prod-{ACCOUNT_ID}",
    }
    assert BUCKET_NAME.match(body["Data"]["BucketName"])
    assert body["PhysicalResourceId"] == body["Data"]["BucketName"]
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/AutoVid/abc",
        "req-1",
        "StackNaming",
    )


def test_longest_allowed_stack_name_fits_and_one_more_character_fails(
    naming_module: types.ModuleType,
    naming_properties: dict[str, str],
    response_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_server
    fitting = "A" * 31  # 63 - len("auto-vid-s3-bucket-") - len("-123456789012")
    naming_module.handler(event("Create", url, {**naming_properties, "StackName": fitting}), None)
    naming_module.handler(event("Create", url, {**naming_properties, "StackName": fitting + "b"}), None)
    ok, too_long = (response["body"] for response in received)
    assert ok["Status"] == "SUCCESS"
    assert len(ok["Data"]["BucketName"]) == 63
    assert BUCKET_NAME.match(ok["Data"]["BucketName"])
    assert too_long["Status"] == "FAILED"
    assert "at most 31 characters" in too_long["Reason"]
    assert too_long["Data"] == {}
    assert too_long["PhysicalResourceId"] == "StackNaming"


def test_update_keeps_the_physical_id_and_delete_just_answers(
    naming_module: types.ModuleType,
    naming_properties: dict[str, str],
    response_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_server
    physical = f"auto-vid-s3-bucket-autovid-{ACCOUNT_ID}"
    properties = {**naming_properties, "StackName": "AutoVid"}
    naming_module.handler(event("Update", url, properties, PhysicalResourceId=physical), None)
    naming_module.handler(event("Delete", url, properties, PhysicalResourceId=physical), None)
    update, delete = (response["body"] for response in received)
    assert update["Status"] == "SUCCESS"
    assert update["PhysicalResourceId"] == physical
    assert update["Data"]["BucketName"] == physical
    assert delete["Status"] == "SUCCESS"
    assert delete["PhysicalResourceId"] == physical
    assert delete["Data"] == {}


def test_missing_property_is_reported_not_raised(
    naming_module: types.ModuleType,
    response_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_server
    naming_module.handler(event("Create", url, {"StackName": "AutoVid"}), None)
    (response,) = received
    assert response["body"]["Status"] == "FAILED"
    assert "BucketPrefix" in response["body"]["Reason"]
