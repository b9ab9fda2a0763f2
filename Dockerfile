# syntax=docker/dockerfile:1
#
# autovid processor: the Lambda container image of ProcessorFunction (template.yaml).
# `sam build` builds it (Docker required) and `sam deploy` pushes it to ECR.
#
# - FFmpeg comes inside the PyAV wheels (libx264, AAC): no system ffmpeg is installed.
# - Speech on AWS is Amazon Polly: espeak-ng (the embedded engine) is not needed here.
# - The python3.12 base is Amazon Linux 2023, so pip takes the same current PyAV/numpy wheels the
#   test suite runs on (the python3.11 base, Amazon Linux 2 with glibc 2.26, would get PyAV 14.x).
ARG PYTHON_VERSION=3.12

# ---- build stage: install autovid and its dependencies into /asset ------------------------------
FROM public.ecr.aws/lambda/python:${PYTHON_VERSION} AS build

WORKDIR /build
# Only what the wheel needs: the metadata first (readme is part of it), then the package.
COPY pyproject.toml README.md ./
COPY src ./src
# --only-binary: fail fast with a clear message if a compiled dependency has no wheel for this
# base image, instead of trying (and failing) to compile it. Console scripts (bin/) are no use
# to Lambda.
RUN pip install --no-cache-dir --disable-pip-version-check \
        --only-binary=av,numpy,pydantic-core --target /asset . \
    && rm -rf /asset/bin
# Fonts for burned-in captions (DejaVu: Latin, Greek, Cyrillic, Hebrew, Arabic), copied below.
RUN dnf install -y dejavu-sans-fonts dejavu-serif-fonts dejavu-sans-mono-fonts && dnf clean all

# ---- runtime stage: the Lambda base image plus the installed packages only -----------------------
FROM public.ecr.aws/lambda/python:${PYTHON_VERSION}

COPY --from=build /asset ${LAMBDA_TASK_ROOT}
COPY --from=build /usr/share/fonts /usr/share/fonts

# The handler of the processor entrypoint (SQS batch -> JobProcessor).
CMD ["autovid.entrypoints.lambdas.processor.handler"]
