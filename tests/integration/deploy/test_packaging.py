"""What `sam build` packages: the processor image (Dockerfile, .dockerignore), the API zip
(requirements + layer), samconfig.toml, and the two Lambda handlers the template names."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autovid.adapters.aws import emulator as aws_emulator
from tests.aws_iam import allowed_actions, iam_actions

PROCESSOR_HANDLER = "autovid.entrypoints.lambdas.processor.handler"
API_HANDLER = "autovid.entrypoints.lambdas.api.handler"
# Left out of the API zip on purpose: PyAV and numpy (render only, >150 MB unzipped), pysubs2 and
# Pillow (captions, render only), the CLI and the local server. boto3 is not listed either: the
# Lambda runtime provides it.
NOT_IN_API_ZIP = {"av", "numpy", "pysubs2", "pillow", "typer", "rich", "uvicorn"}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), " ".join(arguments.split())))
    return pairs


def docker_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent of it wins."""

    def matches(pattern: str, candidate: str) -> bool:
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
            # "**/" is any number of directories, zero included.
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        return re.fullmatch(regex, candidate) is not None

    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(matches(pattern.lstrip("!"), candidate) for candidate in candidates):
            ignored = not negated
    return ignored


def test_dockerfile_is_a_small_multi_stage_lambda_image(repo_root: Path) -> None:
    instructions = dockerfile_instructions(repo_root / "Dockerfile")
    args = [arguments for name, arguments in instructions if name == "ARG"]
    assert "PYTHON_VERSION=3.12" in args  # Amazon Linux 2023: the wheels the tests run on
    stages = [arguments for name, arguments in instructions if name == "FROM"]
    assert stages == [
        "public.ecr.aws/lambda/python:${PYTHON_VERSION} AS build",
        "public.ecr.aws/lambda/python:${PYTHON_VERSION}",
    ]
    runs = [arguments for name, arguments in instructions if name == "RUN"]
    assert any(re.search(r"pip install .*--target /asset \.( |$)", run) for run in runs), runs
    # The final stage takes the installed packages only, not the sources or pip's caches.
    final = instructions[[i for i, (name, _) in enumerate(instructions) if name == "FROM"][-1] :]
    assert ("COPY", "--from=build /asset ${LAMBDA_TASK_ROOT}") in final
    assert not any(name == "RUN" for name, _ in final)
    (cmd,) = [arguments for name, arguments in instructions if name == "CMD"]
    assert json.loads(cmd) == [PROCESSOR_HANDLER]
    copies = [arguments for name, arguments in instructions if name == "COPY"]
    assert "pyproject.toml README.md ./" in copies
    assert "src ./src" in copies


def test_dockerignore_sends_only_the_package_sources(repo_root: Path) -> None:
    patterns = [
        line.strip()
        for line in (repo_root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for kept in ("pyproject.toml", "README.md", "src/autovid/config.py", "src/autovid/spec/models.py"):
        assert not docker_ignored(kept, patterns), kept
    for dropped in (
        ".venv/bin/python",
        ".git/HEAD",
        ".aws-sam/build/template.yaml",
        "tests/integration/deploy/test_packaging.py",
        "autovid-data/jobs.db",
        "src/autovid/__pycache__/config.cpython-311.pyc",
        "src/autovid.egg-info/PKG-INFO",
    ):
        assert docker_ignored(dropped, patterns), dropped


def test_api_requirements_match_pyproject(repo_root: Path, sam_template: dict[str, Any]) -> None:
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    declared = {
        canonicalize_name(req.name): req for req in map(Requirement, pyproject["project"]["dependencies"])
    }
    code_dir = repo_root / sam_template["Resources"]["ApiFunction"]["Properties"]["CodeUri"]
    lines = (code_dir / "requirements.txt").read_text().splitlines()
    api = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert api, "the API needs at least pydantic and fastapi"
    for req in api:
        name = canonicalize_name(req.name)
        assert name in declared, f"{req.name} is not a dependency in pyproject.toml"
        assert req.specifier == declared[name].specifier, f"{req.name}: bounds differ from pyproject.toml"
    left_out = set(declared) - {canonicalize_name(req.name) for req in api}
    assert left_out == NOT_IN_API_ZIP | {"boto3"}


def test_samconfig_deploys_in_one_guided_step(repo_root: Path) -> None:
    config = tomllib.loads((repo_root / "samconfig.toml").read_text())
    stack_name = config["default"]["global"]["parameters"]["stack_name"]
    # Lower case and short enough for auto-vid-s3-bucket-{stack}-{account} (63 characters).
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,30}", stack_name)
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["resolve_image_repos"] is True


def handler_environment(cfn_resources: dict[str, Any], function: str) -> dict[str, str]:
    """The function's environment with placeholder values, plus offline AWS settings."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true"}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    for name, value in cfn_resources[function]["Properties"]["Environment"]["Variables"].items():
        env[name] = value if isinstance(value, str) else f"placeholder-{name.lower()}"
    env["SQS_JOBS_QUEUE_URL"] = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
    env["APP_AWS_REGION"] = "eu-west-1"
    for name in ("WEBHOOK_MAX_HEADERS_SIZE", "WEBHOOK_MAX_METADATA_SIZE"):
        env[name] = "1024"
    env.update(
        {"S3_PRESIGNED_URL_EXPIRATION": "86400", "DYNAMODB_JOBS_TTL_SECONDS": "604800", "LOG_LEVEL": "INFO"}
    )
    return env


def import_handler(handler: str, blocked: set[str], env: dict[str, str], repo_root: Path) -> None:
    module, _, attribute = handler.rpartition(".")
    # sys.modules[name] = None makes `import name` raise ImportError, as in a zip without it.
    code = (
        "import importlib, sys\n"
        f"for name in {sorted(blocked)!r}:\n"
        "    sys.modules[name] = None\n"
        f"handler = getattr(importlib.import_module({module!r}), {attribute!r})\n"
        "assert callable(handler), handler\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_api_handler_imports_without_the_render_dependencies(
    cfn_resources: dict[str, Any], repo_root: Path
) -> None:
    """The API zip holds the layer (autovid) and requirements.txt only: no PyAV, no numpy."""
    assert cfn_resources["ApiFunction"]["Properties"]["Handler"] == API_HANDLER
    import_handler(API_HANDLER, NOT_IN_API_ZIP, handler_environment(cfn_resources, "ApiFunction"), repo_root)


def test_processor_handler_imports(cfn_resources: dict[str, Any], repo_root: Path) -> None:
    env = handler_environment(cfn_resources, "ProcessorFunction")
    import_handler(PROCESSOR_HANDLER, set(), env, repo_root)


# --- the API zip against the template's own resources, in moto -----------------------------------

# Runs in a child process in which PyAV, numpy, the CLI and uvicorn cannot be imported, as in the
# API zip; it calls the Lambda handler with API Gateway REST proxy events and prints the answers.
API_ZIP_SCRIPT = """
import json, sys, types
for name in BLOCKED:
    sys.modules[name] = None
import botocore.client
from autovid.entrypoints.lambdas.api import handler

# Every AWS operation the handler makes, watched on its way out (the call itself goes to moto).
operations = set()
make_api_call = botocore.client.BaseClient._make_api_call

def watched(client, name, params):
    operations.add((client.meta.service_model.service_name, name, json.dumps(params, default=str)))
    return make_api_call(client, name, params)

botocore.client.BaseClient._make_api_call = watched

context = types.SimpleNamespace(
    function_name="autovid-api", memory_limit_in_mb=512, aws_request_id="req-1",
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:autovid-api",
)

def call(method, path, body=None, key_id="key-1"):
    identity = {"sourceIp": "198.51.100.7", "apiKeyId": key_id}
    headers = {"content-type": "application/json", "x-api-key": "secret-value"}
    event = {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path": "/v1" + path,
                           "stage": "v1", "requestId": "req-1", "identity": identity},
        "body": None if body is None else json.dumps(body), "isBase64Encoded": False,
    }
    answer = handler(event, context)
    return {"status": answer["statusCode"], "body": json.loads(answer["body"] or "null")}

spec = {
    "assets": {"video": {"id": "main", "source": "assets/key-1/in.mp4"}},
    "timeline": [],
    "output": {"filename": "out.mp4"},
}
results = {"health": call("GET", "/health", key_id=None), "submit": call("POST", "/submit", spec)}
job_id = (results["submit"]["body"] or {}).get("jobId")
results["status"] = call("GET", f"/status/{job_id}")
results["jobs"] = call("GET", "/jobs")
results["other_key_status"] = call("GET", f"/status/{job_id}", key_id="key-2")
template = {"name": "hi", "variables": {"n": {"type": "string", "required": True}},
            "spec": {**spec, "jobInfo": {"title": "{{n}}"}, "output": {"filename": "hi-{{n}}.mp4"}}}
batch = call("POST", "/batches", {"template": template, "rows": [{"n": "Ada"}, {"n": "Bo"}]})
batch_id = (batch["body"] or {}).get("batchId")
results["batch"] = batch
results["batch_get"] = call("GET", f"/batches/{batch_id}")
results["batch_cancel"] = call("POST", f"/batches/{batch_id}/cancel")
results["operations"] = sorted(operations)
print(json.dumps(results))
"""


def expand(value: Any, names: dict[str, str]) -> str:
    text = value if isinstance(value, str) else value["Fn::Sub"]
    return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], text)


def create_from_template(
    clients: Any, cfn_resources: dict[str, Any], names: dict[str, str]
) -> dict[str, str]:
    """Create the bucket, queues and table in moto from the translated template's properties and
    return the environment values CloudFormation would give the functions."""
    # What the StackNaming custom resource returns (its own tests are in test_stack_naming.py).
    bucket = f"auto-vid-s3-bucket-{names['AWS::StackName'].lower()}-{names['AWS::AccountId']}"
    clients.s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": names["AWS::Region"]}
    )

    dlq = cfn_resources["JobsDeadLetterQueue"]["Properties"]
    dlq_url = clients.sqs.create_queue(QueueName=expand(dlq["QueueName"], names))["QueueUrl"]
    dlq_arn = clients.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    jobs = cfn_resources["JobsQueue"]["Properties"]
    redrive = {**jobs["RedrivePolicy"], "deadLetterTargetArn": dlq_arn["QueueArn"]}
    queue_url = clients.sqs.create_queue(
        QueueName=expand(jobs["QueueName"], names),
        Attributes={
            "VisibilityTimeout": str(jobs["VisibilityTimeout"]),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]

    table = cfn_resources["JobsTable"]["Properties"]
    table_name = expand(table["TableName"], names)
    shape = ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
    clients.dynamodb.create_table(TableName=table_name, **{key: table[key] for key in shape})
    clients.dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification=table["TimeToLiveSpecification"]
    )
    batches = cfn_resources["BatchesTable"]["Properties"]
    batches_name = expand(batches["TableName"], names)
    clients.dynamodb.create_table(
        TableName=batches_name, **{key: batches[key] for key in shape if key in batches}
    )
    return {
        "S3_BUCKET_NAME": bucket,
        "SQS_JOBS_QUEUE_URL": queue_url,
        "DYNAMODB_JOBS_TABLE_NAME": table_name,
        "DYNAMODB_BATCHES_TABLE_NAME": batches_name,
    }


def test_api_zip_serves_requests_against_the_templates_resources(
    cfn_resources: dict[str, Any], names: dict[str, str], repo_root: Path
) -> None:
    """The API function as deployed: no PyAV/numpy, the template's environment, and a table,
    queue and bucket shaped like the template's (in moto): submit, status, list, health."""
    emulator = aws_emulator.start(region=names["AWS::Region"])
    try:
        clients = emulator.clients()
        created = create_from_template(clients, cfn_resources, names)
        clients.s3.put_object(
            Bucket=created["S3_BUCKET_NAME"], Key="assets/key-1/in.mp4", Body=b"video bytes"
        )

        env = handler_environment(cfn_resources, "ApiFunction")
        env.update(created)
        env.update(
            {"APP_AWS_REGION": names["AWS::Region"], "AUTOVID_AWS_ENDPOINT_URL": emulator.endpoint_url}
        )
        script = API_ZIP_SCRIPT.replace("BLOCKED", repr(sorted(NOT_IN_API_ZIP)))
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        answers = json.loads(result.stdout.strip().splitlines()[-1])

        assert answers["health"]["status"] == 200
        assert answers["submit"]["status"] == 200, answers["submit"]
        job = answers["submit"]["body"]
        assert job["status"] == "submitted"
        assert answers["status"]["status"] == 200
        assert answers["status"]["body"]["jobId"] == job["jobId"]
        # Listing goes through the template's owner index.
        assert answers["jobs"]["status"] == 200
        assert job["jobId"] in json.dumps(answers["jobs"]["body"])
        assert answers["other_key_status"]["status"] == 404

        messages = clients.sqs.receive_message(QueueUrl=created["SQS_JOBS_QUEUE_URL"], MaxNumberOfMessages=10)
        assert job["jobId"] in json.dumps(messages.get("Messages", []))
        # A batch: stored, read with its rows' jobs, cancelled.
        assert answers["batch"]["status"] == 201, answers["batch"]
        assert answers["batch_get"]["status"] == 200 and len(answers["batch_get"]["body"]["rows"]) == 2
        assert answers["batch_cancel"]["body"]["counts"]["cancelled"] == 2
        # Every call the handler made is one its role allows (moto does not check IAM).
        needed = {
            action
            for service, operation, params in answers["operations"]
            for action in iam_actions(service, operation, json.loads(params))
        }
        assert "dynamodb:BatchGetItem" in needed  # the batch's page of jobs
        assert needed - allowed_actions(cfn_resources["ApiRole"]) == set()
    finally:
        emulator.stop()
