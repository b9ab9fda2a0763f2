"""AWS Lambda entrypoints: ``api.handler`` (API Gateway -> the FastAPI app through Mangum) and
``processor.handler`` (SQS batches -> ``JobProcessor.process``).

Both share ``container()``: the object graph from ``autovid.bootstrap``, built on the first
invocation of an execution environment and reused while it stays warm. Logs are JSON lines
(Powertools ``Logger``); every ``autovid.*`` logger writes through it.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from autovid.bootstrap import Container, bootstrap
from autovid.config import Settings
from autovid.logsafe import install_log_redaction, redact

install_log_redaction()  # before the first record: boto and httpx log URLs with signatures

SERVICE = "autovid"
LAMBDA_DATA_DIR = Path("/tmp/autovid")  # /tmp is the only writable place in Lambda


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, redacted as a whole: its formatter renders exceptions from the
    record's ``exc_info`` (the traceback text and a ``stack_trace`` with the exception's value),
    not from the redacted text the record factory leaves, so a URL in an exception's message
    would reach CloudWatch with its signature."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# Powertools names its logger after the service, so "autovid" is the parent of every module's
# logger (autovid.jobs.processor, …) and their records come out as JSON with the request id.
logger = Logger(
    service=SERVICE, level=os.environ.get("LOG_LEVEL", "INFO"), logger_formatter=RedactingFormatter()
)
# Show which function logged (autovid-api, autovid-processor) while keeping the logger's name.
logger.append_keys(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))


@functools.cache
def container() -> Container:
    """The cached bootstrap; ``container.cache_clear()`` rebuilds it (tests)."""
    settings = lambda_settings()
    configure_logging(settings)
    return bootstrap(settings)


def configure_logging(settings: Settings) -> None:
    logger.setLevel(settings.log_level)
    # The Lambda runtime's root handler would print every record a second time, as plain text.
    logging.getLogger(SERVICE).propagate = False


def lambda_settings() -> Settings:
    settings = Settings()
    if "AUTOVID_DATA_DIR" not in os.environ:
        settings = settings.model_copy(update={"data_dir": LAMBDA_DATA_DIR})
    return settings
