# The mock (default command) and the conformance suite, in one image.
#
#   docker build -t billing-contract .
#   docker run --rm -p 4010:4010 billing-contract
#   docker run --rm -e BILLING_BEARER_TOKEN=… -e BILLING_APP_ID=… -e BILLING_APP_TOKEN=… billing-contract \
#       billing-conformance --mifumo-url https://… --wepay-url https://…
#
# Any Debian-like base with Python 3.11+ and its venv module works (`--build-arg BASE_IMAGE=…`).
ARG BASE_IMAGE=python:3.11-slim

# Stage 1: the project's wheel and the wheels of everything it depends on. Nothing of this stage but the
# wheels reaches the final image (no checkout, tests, bench, build tools or pip cache).
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/build
# The dependencies' wheels first, from pyproject.toml alone: a change to the code does not fetch them again.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/build/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > requirements.txt \
    && /opt/build/bin/pip wheel --wheel-dir /wheels --requirement requirements.txt
# Then the project's own wheel; the context is only what it is built from (see .dockerignore).
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/build/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && cd /wheels && ls billing_contract-*.whl && sha256sum *.whl > /wheels.sha256

# Stage 2: the wheel installed in a virtual environment, run as a non-root user.
FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/billing-contract/bin:$PATH \
    BILLING_MOCK_HOST=0.0.0.0 \
    BILLING_MOCK_PORT=4010
# The wheels' checksums come first: they make this stage's cache follow the wheels (some builders leave a bind
# mount out of the cache key) and are checked against what gets installed. The wheels themselves are only mounted.
COPY --from=build /wheels.sha256 /opt/billing-contract/wheels.sha256
# From the wheels of stage 1 only (no index), then the venv's own pip and setuptools go: nothing installs at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    cd /wheels && sha256sum --check --quiet /opt/billing-contract/wheels.sha256 && cd / \
    && python3 -m venv /opt/billing-contract \
    && /opt/billing-contract/bin/pip install --no-cache-dir --no-index --find-links /wheels billing-contract \
    && /opt/billing-contract/bin/pip uninstall --yes --quiet pip setuptools \
    && groupadd --gid 10001 billing \
    && useradd --uid 10001 --gid billing --no-log-init --create-home --home-dir /home/billing --shell /usr/sbin/nologin billing
USER 10001:10001
WORKDIR /home/billing
EXPOSE 4010
# /__mock/health answers 200 once the mock serves; python's urllib, not curl. It follows BILLING_MOCK_PORT.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/__mock/health' % os.environ.get('BILLING_MOCK_PORT', '4010'), timeout=4)"]
# billing-mock runs as PID 1 (exec form, no shell): it handles SIGTERM itself (graceful stop, exit 0).
CMD ["billing-mock"]
