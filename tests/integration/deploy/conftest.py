"""Fixtures for the SAM template tests: the template as written, and as SAM translates it.

Everything is offline: cfn-lint and aws-sam-translator run in-process; the translator gets a fixed
managed-policy map and a boto3 session that only names a region (no AWS call is made).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

STACK_NAME = "AutoVid-Test"  # capitals on purpose: the bucket name must still be lower case
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
PSEUDO_PARAMETERS = {
    "AWS::StackName": STACK_NAME,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}

# What `sam build` + `sam package` write into the template before it reaches CloudFormation.
PACKAGED_ARTIFACTS = {
    "ApiFunction": ("CodeUri", "s3://sam-artifacts/autovid/api.zip"),
    "SharedLayer": ("ContentUri", "s3://sam-artifacts/autovid/layer.zip"),
    "ProcessorFunction": ("ImageUri", f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/autovid:python3.12-v1"),
}


class FixedManagedPolicyLoader:
    """The translator asks for AWS managed policy ARNs by name; answer without calling IAM."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSLambdaSQSQueueExecutionRole": (
                "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
            ),
        }


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain JSON types (cfn-lint's loader understands !Ref, !Sub, ...)."""
    template, errors = decode(str(path))
    assert not errors, [str(error) for error in errors]
    assert template is not None
    return json.loads(json.dumps(template))


def translate(sam_template: dict[str, Any]) -> dict[str, Any]:
    packaged = copy.deepcopy(sam_template)
    for logical_id, (prop, uri) in PACKAGED_ARTIFACTS.items():
        packaged["Resources"][logical_id]["Properties"][prop] = uri
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return translator.translate(
        packaged,
        parameter_values=dict(PSEUDO_PARAMETERS),
        get_managed_policy_map=FixedManagedPolicyLoader().load,
    )


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE_PATH


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def cfn_template(sam_template: dict[str, Any]) -> dict[str, Any]:
    return translate(sam_template)


@pytest.fixture(scope="session")
def cfn_resources(cfn_template: dict[str, Any]) -> dict[str, Any]:
    return cfn_template["Resources"]


@pytest.fixture(scope="session")
def names(sam_template: dict[str, Any]) -> dict[str, str]:
    """Values for ${...} in Fn::Sub: pseudo parameters and parameter defaults."""
    return {**parameter_defaults(sam_template), **PSEUDO_PARAMETERS}
