"""AWS adapters: DynamoDB job store, SQS queue, S3 storage, Polly speech, and their wiring.

boto3 clients are made in ``wiring.aws_adapters`` (called by ``autovid.bootstrap``), never at
import, and honour ``APP_AWS_REGION`` and ``AUTOVID_AWS_ENDPOINT_URL`` (a local emulator).
"""
