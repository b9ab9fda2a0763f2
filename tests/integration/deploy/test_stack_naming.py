"""The inline custom resource that lower-cases the stack name for the S3 bucket name.

Its code is taken from template.yaml and run against a real HTTP server on 127.0.0.1 standing in
for CloudFormation's pre-signed response URL.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import RecordingServer  # tests/conftest.py

# S3 general purpose bucket names: 3-63 characters, lower-case letters, digits, dots and hyphens,
# starting and ending with a letter or digit.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ACCOUNT_ID = "123456789012"


RESPONSE_PATH = "/response?X-Amz-Signature=abc"


@pytest.fixture
def response_server(recording_server: Callable[..., RecordingServer]) -> RecordingServer:
    """Stands in for CloudFormation's pre-signed response URL (tests/conftest.py's server)."""
    return recording_server(default_status=200)


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
    response_server: RecordingServer,
) -> None:
    url = response_server.url(RESPONSE_PATH)
    naming_module.handler(event("Create", url, {**naming_properties, "StackName": "AutoVid-Prod"}), None)
    (response,) = response_server.received()
    assert (response.method, response.path) == ("PUT", RESPONSE_PATH)
    assert response.headers["Content-Type"] == ""  # the pre-signed URL was signed without one
    body = response.json()
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
    response_server: RecordingServer,
) -> None:
    url = response_server.url(RESPONSE_PATH)
    fitting = "A" * 31  # 63 - len("auto-vid-s3-bucket-") - len("-123456789012")
    naming_module.handler(event("Create", url, {**naming_properties, "StackName": fitting}), None)
    naming_module.handler(event("Create", url, {**naming_properties, "StackName": fitting + "b"}), None)
    ok, too_long = (response.json() for response in response_server.received())
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
    response_server: RecordingServer,
) -> None:
    url = response_server.url(RESPONSE_PATH)
    physical = f"auto-vid-s3-bucket-autovid-{ACCOUNT_ID}"
    properties = {**naming_properties, "StackName": "AutoVid"}
    naming_module.handler(event("Update", url, properties, PhysicalResourceId=physical), None)
    naming_module.handler(event("Delete", url, properties, PhysicalResourceId=physical), None)
    update, delete = (response.json() for response in response_server.received())
    assert update["Status"] == "SUCCESS"
    assert update["PhysicalResourceId"] == physical
    assert update["Data"]["BucketName"] == physical
    assert delete["Status"] == "SUCCESS"
    assert delete["PhysicalResourceId"] == physical
    assert delete["Data"] == {}


def test_missing_property_is_reported_not_raised(
    naming_module: types.ModuleType,
    response_server: RecordingServer,
) -> None:
    url = response_server.url(RESPONSE_PATH)
    naming_module.handler(event("Create", url, {"StackName": "AutoVid"}), None)
    (response,) = response_server.received()
    assert response.json()["Status"] == "FAILED"
    assert "BucketPrefix" in response.json()["Reason"]
