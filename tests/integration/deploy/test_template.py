"""template.yaml: lint-clean, and its CloudFormation translation has what the deployment needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file

from autovid.adapters.aws import dynamo_batches, dynamo_jobs
from autovid.config import Settings

PROCESSOR_HANDLER = "autovid.entrypoints.lambdas.processor.handler"
API_HANDLER = "autovid.entrypoints.lambdas.api.handler"

# Variables both functions get (docs/SETTINGS.md, docs/DEPLOY.md), and the ones only the processor gets.
COMMON_ENV = {
    "AUTOVID_BACKEND",
    "S3_BUCKET_NAME",
    "APP_AWS_REGION",
    "DYNAMODB_JOBS_TABLE_NAME",
    "DYNAMODB_BATCHES_TABLE_NAME",
    "SQS_JOBS_QUEUE_URL",
    "WEBHOOK_MAX_HEADERS_SIZE",
    "WEBHOOK_MAX_METADATA_SIZE",
    "S3_PRESIGNED_URL_EXPIRATION",
    "DYNAMODB_JOBS_TTL_SECONDS",
    "LOG_LEVEL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "AUTOVID_DATA_DIR",
}
PROCESSOR_ONLY_ENV = {
    "AUTOVID_WEBHOOK_SECRET",
    "AUTOVID_WEBHOOK_SECRET_REVISION",
    "AUTOVID_MAX_RECEIVES",
    "AUTOVID_JOB_TIMEOUT",
    "MALLOC_ARENA_MAX",
}
# Read by Powertools or glibc, or only there to force an update; not by autovid.config.Settings.
NOT_SETTINGS_ENV = {
    "MALLOC_ARENA_MAX",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "AUTOVID_WEBHOOK_SECRET_REVISION",
}


def render_sub(value: Any, names: dict[str, str]) -> str:
    """Expand a plain string or a one-argument Fn::Sub with ``names``; fail on anything else."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict) and set(value) == {"Fn::Sub"}, f"not a Fn::Sub string: {value!r}"
    text = value["Fn::Sub"]
    assert isinstance(text, str), f"Fn::Sub with a variable map is not expected here: {value!r}"

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in names, f"${{{name}}} has no value in the test"
        return names[name]

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def of_type(resources: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in resources.items() if res["Type"] == type_name}


def only(resources: dict[str, Any], type_name: str) -> tuple[str, dict[str, Any]]:
    found = of_type(resources, type_name)
    assert len(found) == 1, f"expected one {type_name}, found {sorted(found)}"
    return next(iter(found.items()))


def props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return resources[logical_id]["Properties"]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [st for policy in role["Properties"]["Policies"] for st in policy["PolicyDocument"]["Statement"]]


def statement(role: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [st for st in statements(role) if isinstance(st, dict) and st.get("Sid") == sid]
    assert len(found) == 1, f"no statement {sid}"
    return found[0]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(role: dict[str, Any]) -> set[str]:
    """Every action a role allows, including both branches' statements of conditional ones."""
    found: set[str] = set()
    for st in statements(role):
        branches = st["Fn::If"][1:] if "Fn::If" in st else [st]
        for branch in branches:
            if isinstance(branch, dict) and branch.get("Effect") == "Allow":
                found.update(as_list(branch["Action"]))
    return found


# --- lint ------------------------------------------------------------------------------------------


def test_cfn_lint_reports_no_errors(template_path: Path) -> None:
    matches = lint_file(template_path)
    for match in matches:
        if not match.rule.id.startswith("E"):
            print(f"cfn-lint warning: {match}")
    errors = [str(match) for match in matches if match.rule.id.startswith("E")]
    assert errors == []


def test_cfn_lint_catches_a_broken_copy(template_path: Path, tmp_path: Path) -> None:
    """Guards the test above: the linter does look at this template's values."""
    broken = template_path.read_text().replace("VisibilityTimeout: 5400", "VisibilityTimeout: 99999")
    assert broken != template_path.read_text()
    path = tmp_path / "template.yaml"
    path.write_text(broken)
    assert any(match.rule.id.startswith("E") for match in lint_file(path))


# --- names -----------------------------------------------------------------------------------------


def test_resource_names_follow_the_seed(cfn_resources: dict[str, Any], names: dict[str, str]) -> None:
    stack_account = f"{names['AWS::StackName']}-{names['AWS::AccountId']}"
    assert render_sub(props(cfn_resources, "JobsQueue")["QueueName"], names) == (
        f"auto-vid-sqs-jobs-{stack_account}"
    )
    assert render_sub(props(cfn_resources, "JobsDeadLetterQueue")["QueueName"], names) == (
        f"auto-vid-sqs-jobs-dlq-{stack_account}"
    )
    assert render_sub(props(cfn_resources, "JobsTable")["TableName"], names) == (
        f"auto-vid-dynamodb-jobs-{stack_account}"
    )
    assert render_sub(props(cfn_resources, "BatchesTable")["TableName"], names) == (
        f"auto-vid-dynamodb-batches-{stack_account}"
    )
    _, layer = only(cfn_resources, "AWS::Lambda::LayerVersion")
    assert render_sub(layer["Properties"]["LayerName"], names) == f"auto-vid-layer-shared-{stack_account}"
    assert props(cfn_resources, "ApiKey")["Name"] == "auto-vid-api-key"
    assert props(cfn_resources, "UsagePlan")["UsagePlanName"] == "auto-vid-usage-plan"


def test_bucket_name_is_built_by_the_lower_casing_custom_resource(
    cfn_resources: dict[str, Any],
) -> None:
    assert props(cfn_resources, "Bucket")["BucketName"] == {"Fn::GetAtt": ["StackNaming", "BucketName"]}
    naming = props(cfn_resources, "StackNaming")
    assert naming["StackName"] == {"Ref": "AWS::StackName"}
    assert naming["BucketPrefix"] == "auto-vid-s3-bucket-"
    assert naming["BucketSuffix"] == {"Fn::Sub": "-${AWS::AccountId}"}
    assert naming["ServiceToken"] == {"Fn::GetAtt": ["StackNamingFunction", "Arn"]}
    # A function that never answers would hold the stack for an hour.
    assert 0 < naming["ServiceTimeout"] <= 300


# --- queue -----------------------------------------------------------------------------------------


def test_jobs_queue_redrives_to_the_dead_letter_queue_after_three_receives(
    cfn_resources: dict[str, Any],
) -> None:
    redrive = props(cfn_resources, "JobsQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == 3
    # The processor fails a job on its last receive instead of letting it hit the DLQ silently.
    env = props(cfn_resources, "ProcessorFunction")["Environment"]["Variables"]
    assert int(env["AUTOVID_MAX_RECEIVES"]) == redrive["maxReceiveCount"]
    assert props(cfn_resources, "JobsDeadLetterQueue")["MessageRetentionPeriod"] == 1_209_600


def test_queue_visibility_timeout_is_six_times_the_processor_timeout(
    cfn_resources: dict[str, Any],
) -> None:
    visibility_s = props(cfn_resources, "JobsQueue")["VisibilityTimeout"]
    processor_timeout_s = props(cfn_resources, "ProcessorFunction")["Timeout"]
    assert visibility_s > processor_timeout_s
    assert visibility_s >= 6 * processor_timeout_s
    job_timeout_s = float(
        props(cfn_resources, "ProcessorFunction")["Environment"]["Variables"]["AUTOVID_JOB_TIMEOUT"]
    )
    assert job_timeout_s < processor_timeout_s


def test_processor_consumes_one_job_at_a_time_with_partial_batch_failures(
    cfn_resources: dict[str, Any],
) -> None:
    _, mapping = only(cfn_resources, "AWS::Lambda::EventSourceMapping")
    mapping_props = mapping["Properties"]
    assert mapping_props["EventSourceArn"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert mapping_props["FunctionName"] == {"Ref": "ProcessorFunction"}
    assert 1 <= mapping_props["BatchSize"] <= 5
    assert mapping_props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping_props["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "ProcessorMaxConcurrency"}}


# --- table -----------------------------------------------------------------------------------------


def test_jobs_table_is_on_demand_with_ttl_and_the_adapters_owner_index(cfn_resources: dict[str, Any]) -> None:
    """The layout autovid.adapters.aws.dynamo_jobs reads and writes."""
    table = props(cfn_resources, "JobsTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": dynamo_jobs.TABLE_KEY, "KeyType": "HASH"}]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == {
        dynamo_jobs.TABLE_KEY: "S",
        dynamo_jobs.OWNER_INDEX_PARTITION: "S",
        dynamo_jobs.OWNER_INDEX_SORT: "S",
    }
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == dynamo_jobs.OWNER_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": dynamo_jobs.OWNER_INDEX_PARTITION, "KeyType": "HASH"},
        {"AttributeName": dynamo_jobs.OWNER_INDEX_SORT, "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": dynamo_jobs.TTL_ATTRIBUTE, "Enabled": True}
    for function in ("ApiFunction", "ProcessorFunction"):
        env = props(cfn_resources, function)["Environment"]["Variables"]
        assert env["DYNAMODB_JOBS_TABLE_NAME"] == {"Ref": "JobsTable"}


def test_batches_table_has_the_adapters_keys_and_ttl(cfn_resources: dict[str, Any]) -> None:
    """The layout autovid.adapters.aws.dynamo_batches reads and writes."""
    table = props(cfn_resources, "BatchesTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": dynamo_batches.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": dynamo_batches.SORT_KEY, "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == {dynamo_batches.PARTITION_KEY: "S", dynamo_batches.SORT_KEY: "S"}
    assert "GlobalSecondaryIndexes" not in table
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": dynamo_batches.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    for function in ("ApiFunction", "ProcessorFunction"):
        env = props(cfn_resources, function)["Environment"]["Variables"]
        assert env["DYNAMODB_BATCHES_TABLE_NAME"] == {"Ref": "BatchesTable"}


# --- bucket ----------------------------------------------------------------------------------------


def test_bucket_is_private_and_encrypted(cfn_resources: dict[str, Any]) -> None:
    bucket = props(cfn_resources, "Bucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (deny,) = props(cfn_resources, "BucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bucket_lifecycle_expires_outputs_and_aborts_multipart_uploads(
    cfn_resources: dict[str, Any], names: dict[str, str]
) -> None:
    rules = props(cfn_resources, "Bucket")["LifecycleConfiguration"]["Rules"]
    plain = {rule["Id"]: rule for rule in rules if "Id" in rule}
    outputs = plain["expire-outputs"]
    assert outputs["Status"] == "Enabled"
    assert outputs["Prefix"] == "outputs/"
    assert outputs["ExpirationInDays"] == {"Ref": "OutputsExpirationDays"}
    assert int(names["OutputsExpirationDays"]) >= 1
    multipart = plain["abort-incomplete-multipart-uploads"]
    assert multipart["Status"] == "Enabled"
    assert multipart["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
    # Assets expire only when asked (AssetsExpirationDays > 0).
    (assets,) = [rule for rule in rules if "Fn::If" in rule]
    condition, rule, otherwise = assets["Fn::If"]
    assert condition == "ExpireAssets"
    assert rule["Prefix"] == "assets/"
    assert otherwise == {"Ref": "AWS::NoValue"}


# --- API -------------------------------------------------------------------------------------------


def test_usage_plan_limits_and_stage_dependency(cfn_resources: dict[str, Any]) -> None:
    plan = props(cfn_resources, "UsagePlan")
    assert plan["Throttle"] == {"RateLimit": 2, "BurstLimit": 5}
    assert plan["Quota"] == {"Limit": 50, "Period": "DAY"}
    stage_id, stage = only(cfn_resources, "AWS::ApiGateway::Stage")
    # A Ref to the stage resource (not the literal stage name) orders the usage plan after the stage:
    # this is what avoids "Invalid stage identifier" on the first deploy.
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "JobsApi"}, "Stage": {"Ref": stage_id}}]
    assert stage["Properties"]["RestApiId"] == {"Ref": "JobsApi"}
    key = props(cfn_resources, "UsagePlanKey")
    assert key == {"KeyId": {"Ref": "ApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "UsagePlan"}}
    assert props(cfn_resources, "ApiKey")["Enabled"] is True


def test_every_route_but_health_requires_the_api_key(cfn_resources: dict[str, Any]) -> None:
    body = props(cfn_resources, "JobsApi")["Body"]
    assert body["components"]["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
    }
    methods = {
        (path, method): operation
        for path, item in body["paths"].items()
        for method, operation in item.items()
    }
    assert ("/{proxy+}", "x-amazon-apigateway-any-method") in methods
    assert ("/health", "get") in methods
    for (path, method), operation in methods.items():
        uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert "${ApiFunction.Arn}" in uri
        if (path, method) == ("/health", "get"):
            assert not operation.get("security")
        else:
            assert operation["security"] == [{"api_key": []}], (path, method)


def test_throttled_and_over_quota_answers_are_429(cfn_resources: dict[str, Any]) -> None:
    responses = props(cfn_resources, "JobsApi")["Body"]["x-amazon-apigateway-gateway-responses"]
    for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
        assert responses[kind]["statusCode"] == "429"
        assert responses[kind]["responseTemplates"]["application/json"] == '{"message": "Too Many Requests"}'
        assert "gatewayresponse.header.Retry-After" in responses[kind]["responseParameters"]


def test_raw_upload_bodies_reach_the_function_as_binary(cfn_resources: dict[str, Any]) -> None:
    body = props(cfn_resources, "JobsApi")["Body"]
    assert set(body["x-amazon-apigateway-binary-media-types"]) >= {
        "application/octet-stream",
        "audio/*",
        "video/*",
    }
    assert "application/json" not in body["x-amazon-apigateway-binary-media-types"]


def test_only_one_stage_is_created(cfn_resources: dict[str, Any]) -> None:
    _, stage = only(cfn_resources, "AWS::ApiGateway::Stage")
    assert stage["Properties"]["StageName"] == "v1"


# --- functions -------------------------------------------------------------------------------------


def test_api_function_size_and_code(
    cfn_resources: dict[str, Any], sam_template: dict[str, Any], repo_root: Path
) -> None:
    api = props(cfn_resources, "ApiFunction")
    assert 256 <= api["MemorySize"] <= 512
    assert 30 <= api["Timeout"] <= 60
    assert api["Runtime"] == "python3.11"
    assert api["Handler"] == API_HANDLER
    layer_id, _ = only(cfn_resources, "AWS::Lambda::LayerVersion")
    assert api["Layers"] == [{"Ref": layer_id}]
    layer = sam_template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    assert (repo_root / layer["Properties"]["ContentUri"] / "autovid" / "__init__.py").is_file()
    code_dir = repo_root / sam_template["Resources"]["ApiFunction"]["Properties"]["CodeUri"]
    assert (code_dir / "requirements.txt").is_file()


def test_processor_function_size_and_image(
    cfn_resources: dict[str, Any], sam_template: dict[str, Any], repo_root: Path
) -> None:
    processor = props(cfn_resources, "ProcessorFunction")
    assert processor["MemorySize"] == 3008
    assert processor["Timeout"] == 900
    assert processor["EphemeralStorage"] == {"Size": 10240}
    assert processor["PackageType"] == "Image"
    assert "Runtime" not in processor and "Handler" not in processor
    metadata = sam_template["Resources"]["ProcessorFunction"]["Metadata"]
    context = repo_root / metadata["DockerContext"]
    assert (context / metadata["Dockerfile"]).is_file()
    assert metadata["DockerTag"]


def test_environment_variables_of_both_functions(cfn_resources: dict[str, Any]) -> None:
    api_env = props(cfn_resources, "ApiFunction")["Environment"]["Variables"]
    processor_env = props(cfn_resources, "ProcessorFunction")["Environment"]["Variables"]
    assert set(api_env) >= COMMON_ENV
    assert set(processor_env) >= COMMON_ENV | PROCESSOR_ONLY_ENV
    # Least privilege: only the processor signs webhooks, so only it gets the key.
    assert "AUTOVID_WEBHOOK_SECRET" not in api_env
    assert processor_env["AUTOVID_WEBHOOK_SECRET"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${WebhookSecret}:SecretString}}"
    }
    for env in (api_env, processor_env):
        assert env["AUTOVID_BACKEND"] == "aws"
        assert env["S3_BUCKET_NAME"] == {"Ref": "Bucket"}
        assert env["SQS_JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}
        assert env["APP_AWS_REGION"] == {"Ref": "AWS::Region"}
        assert env["AUTOVID_DATA_DIR"].startswith("/tmp/")


def settings_aliases() -> set[str]:
    aliases: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias])
        aliases.update(choice for choice in choices if isinstance(choice, str))
    return aliases


def resolve(value: Any, names: dict[str, str]) -> str:
    """A deployed value for an environment variable: parameters, names and placeholders."""
    if isinstance(value, (str, int, float)):
        return str(value)
    if "Ref" in value:
        ref = value["Ref"]
        return names.get(ref, f"{ref.lower()}-value")
    if "Fn::Sub" in value and "{{resolve:" in value["Fn::Sub"]:
        return "x" * 48  # what CloudFormation puts there at deploy time
    if "Fn::Join" in value:  # a list parameter joined (its default)
        separator, listed = value["Fn::Join"]
        return separator.join(names.get(listed["Ref"], "").split(","))
    return render_sub(value, names)


@pytest.mark.parametrize("function", ["ApiFunction", "ProcessorFunction"])
def test_settings_accept_the_deployed_environment(
    function: str, cfn_resources: dict[str, Any], names: dict[str, str]
) -> None:
    env = props(cfn_resources, function)["Environment"]["Variables"]
    unknown = set(env) - settings_aliases() - NOT_SETTINGS_ENV
    assert unknown == set(), "variables autovid.config.Settings does not read (typo?)"
    deployed = {name: resolve(value, names) for name, value in env.items()}
    settings = Settings.model_validate(deployed)
    assert settings.backend == "aws"
    assert settings.speech_engine == "polly"
    assert settings.presigned_url_expiration_s == 86_400
    assert settings.jobs_ttl_s == 604_800
    assert settings.log_level == "INFO"
    assert settings.s3_buckets_readable == {settings.s3_bucket_name}  # SourceBuckets is empty


def test_functions_use_their_own_log_groups_with_retention(cfn_resources: dict[str, Any]) -> None:
    for function, role_id in (
        ("ApiFunction", "ApiRole"),
        ("ProcessorFunction", "ProcessorRole"),
        ("StackNamingFunction", "StackNamingRole"),
    ):
        function_props = props(cfn_resources, function)
        group_ref = function_props["LoggingConfig"]["LogGroup"]["Ref"]
        group = cfn_resources[group_ref]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert function_props["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
        logs = statement(cfn_resources[role_id], "WriteLogs")
        assert logs["Resource"] == {"Fn::GetAtt": [group_ref, "Arn"]}


# --- IAM -------------------------------------------------------------------------------------------


def test_roles_have_no_wildcard_actions_and_no_managed_policies(cfn_resources: dict[str, Any]) -> None:
    roles = of_type(cfn_resources, "AWS::IAM::Role")
    assert set(roles) == {"ApiRole", "ProcessorRole", "StackNamingRole"}
    for role_id, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"], role_id
        for action in actions_of(role):
            assert "*" not in action, f"{role_id} allows {action}"


def test_api_role_is_least_privilege(cfn_resources: dict[str, Any]) -> None:
    role = cfn_resources["ApiRole"]
    assert actions_of(role) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:GetObject",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "sqs:SendMessage",
    }
    assert statement(role, "UploadAssets")["Resource"] == {"Fn::Sub": "${Bucket.Arn}/assets/*"}
    assert statement(role, "ReadAssetsAndOutputs")["Resource"] == [
        {"Fn::Sub": "${Bucket.Arn}/assets/*"},
        {"Fn::Sub": "${Bucket.Arn}/outputs/*"},
    ]
    assert statement(role, "JobRecords")["Resource"] == [
        {"Fn::GetAtt": ["JobsTable", "Arn"]},
        {"Fn::Sub": "${JobsTable.Arn}/index/*"},
    ]
    # Deletes only for idempotency markers, whose keys the adapter prefixes.
    delete = statement(role, "FreeStaleIdempotencyKeys")
    assert delete["Action"] == "dynamodb:DeleteItem"
    assert delete["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{dynamo_jobs.IDEMPOTENCY_PREFIX}*"]}
    }
    assert statement(role, "EnqueueJobs")["Resource"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    # Rows are written in bulk only to the batches table, never to the jobs table.
    batches = statement(role, "TemplatesAndBatches")
    assert batches["Resource"] == {"Fn::GetAtt": ["BatchesTable", "Arn"]}
    assert "dynamodb:BatchWriteItem" not in as_list(statement(role, "JobRecords")["Action"])
    assert "dynamodb:BatchGetItem" in as_list(statement(role, "JobRecords")["Action"])  # get_many
    # Download URLs of outputs in the deployer's own buckets.
    (custom,) = [st["Fn::If"] for st in statements(role) if "Fn::If" in st]
    assert custom[0] == "HasExtraWritableObjects"
    assert custom[1]["Action"] == "s3:GetObject"
    assert custom[1]["Resource"] == {"Ref": "ExtraWritableS3ObjectArns"}


def test_processor_role_is_least_privilege(cfn_resources: dict[str, Any]) -> None:
    role = cfn_resources["ProcessorRole"]
    assert actions_of(role) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "polly:SynthesizeSpeech",
    }
    assert statement(role, "WriteOutputs")["Resource"] == {"Fn::Sub": "${Bucket.Arn}/outputs/*"}
    assert statement(role, "JobRecords")["Resource"] == {"Fn::GetAtt": ["JobsTable", "Arn"]}
    assert statement(role, "ConsumeJobs")["Resource"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    counters = statement(role, "BatchCounters")
    assert set(counters["Action"]) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert counters["Resource"] == {"Fn::GetAtt": ["BatchesTable", "Arn"]}
    # Custom buckets (s3:// sources and destinations) only when the deployer lists them.
    conditional = {st["Fn::If"][0]: st["Fn::If"] for st in statements(role) if "Fn::If" in st}
    assert set(conditional) == {"HasSourceBuckets", "HasExtraWritableObjects"}
    read = conditional["HasSourceBuckets"]
    assert read[1]["Action"] == "s3:GetObject"
    assert read[1]["Resource"] == {
        "Fn::Split": [
            ",",
            {
                "Fn::Sub": [
                    "arn:aws:s3:::${Names}/*",
                    {"Names": {"Fn::Join": ["/*,arn:aws:s3:::", {"Ref": "SourceBuckets"}]}},
                ]
            },
        ]
    }
    assert read[2] == {"Ref": "AWS::NoValue"}
    write = conditional["HasExtraWritableObjects"]
    assert set(write[1]["Action"]) == {"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"}
    assert write[1]["Resource"] == {"Ref": "ExtraWritableS3ObjectArns"}


def test_extra_bucket_parameters_default_to_none(cfn_template: dict[str, Any]) -> None:
    for parameter in ("SourceBuckets", "ExtraWritableS3ObjectArns"):
        assert cfn_template["Parameters"][parameter]["Type"] == "CommaDelimitedList"
        assert cfn_template["Parameters"][parameter]["Default"] == ""
    condition = cfn_template["Conditions"]["HasSourceBuckets"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SourceBuckets"}]}, ""]}]}


def test_the_service_refuses_exactly_the_buckets_the_processor_may_not_read(
    cfn_resources: dict[str, Any],
) -> None:
    """The buckets the role grants and the buckets the service accepts come from one parameter."""
    for function in ("ApiFunction", "ProcessorFunction"):
        env = props(cfn_resources, function)["Environment"]["Variables"]
        assert env["AUTOVID_S3_SOURCE_BUCKETS"] == {"Fn::Join": [",", {"Ref": "SourceBuckets"}]}
    role = cfn_resources["ProcessorRole"]
    granted = [st["Fn::If"][1] for st in statements(role) if "Fn::If" in st]
    (read,) = [st for st in granted if st["Sid"] == "ReadSourceBuckets"]
    names = ["my-media", "team-library"]
    split = read["Resource"]["Fn::Split"]
    template, values = split[1]["Fn::Sub"]
    joined = values["Names"]["Fn::Join"][0].join(names)
    assert template.replace("${Names}", joined).split(split[0]) == [
        "arn:aws:s3:::my-media/*",
        "arn:aws:s3:::team-library/*",
    ]


def test_webhook_secret_is_generated_unless_given(cfn_template: dict[str, Any]) -> None:
    parameter = cfn_template["Parameters"]["WebhookSecretValue"]
    assert parameter["NoEcho"] is True
    assert parameter["Default"] == ""
    secret = cfn_template["Resources"]["WebhookSecret"]["Properties"]
    assert secret["GenerateSecretString"]["Fn::If"][0] == "GenerateWebhookSecret"
    assert secret["GenerateSecretString"]["Fn::If"][1]["PasswordLength"] >= 32
    assert secret["SecretString"] == {
        "Fn::If": ["GenerateWebhookSecret", {"Ref": "AWS::NoValue"}, {"Ref": "WebhookSecretValue"}]
    }
    # CloudFormation re-resolves the secret only when the function changes: the revision does that.
    env = cfn_template["Resources"]["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AUTOVID_WEBHOOK_SECRET_REVISION"] == {"Ref": "WebhookSecretRevision"}


# --- monitoring and outputs ------------------------------------------------------------------------


def test_dead_letter_queue_alarm(cfn_resources: dict[str, Any]) -> None:
    alarm = props(cfn_resources, "DeadLetterQueueAlarm")
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["JobsDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_outputs(cfn_template: dict[str, Any]) -> None:
    outputs = cfn_template["Outputs"]
    expected = {
        "ApiUrl",
        "ApiKeyId",
        "ApiKeyValueCommand",
        "BucketName",
        "JobsQueueUrl",
        "JobsDeadLetterQueueUrl",
        "JobsTableName",
        "BatchesTableName",
        "ApiFunctionName",
        "ProcessorFunctionName",
        "ProcessorImageCommand",
        "WebhookSecretValueCommand",
    }
    assert expected <= set(outputs)
    assert "--include-value" in outputs["ApiKeyValueCommand"]["Value"]["Fn::Sub"]
    assert outputs["ApiUrl"]["Value"]["Fn::Sub"].endswith("/v1")
