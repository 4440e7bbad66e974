# syntax=docker/dockerfile:1
#
# The ezhr-graphql image: the API server (the default command) and the ingestion worker
# (`ezhr-graphql worker`). Built in stages so that compilers stay out of the final image.
#
#   docker build -t ezhr-graphql .
#   docker run -p 5000:5000 -e EZHR_AUTH__SECRET_KEY=... ezhr-graphql

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# --- builder: resolve the locked dependencies into /app/.venv ---------------------------
FROM ${PYTHON_IMAGE} AS builder

# llama-cpp-python (the local-llm extra: the image ships the local generative model)
# compiles llama.cpp from source; pyodbc needs the ODBC headers when no wheel fits the
# platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake unixodbc-dev \
    && rm -rf /var/lib/apt/lists/*

COPY --from=uv /uv /usr/local/bin/uv

# A portable llama.cpp build (no -march=native): the image runs on any CPU of its
# architecture, not only on the one that built it.
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF" \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    uv sync --frozen --no-dev --extra mssql --extra local-llm --no-install-project

# Then the application. It stays an editable install so that the migrations in alembic/
# sit beside the package, where the application looks for them.
COPY pyproject.toml uv.lock README.md schema.graphql ./
COPY alembic ./alembic
COPY ezhr_graphql ./ezhr_graphql
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra mssql --extra local-llm

# --- microsoft-apt: the signing key of Microsoft's package repository ----------------------
FROM ${PYTHON_IMAGE} AS microsoft-apt
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && curl -fsSL https://packages.microsoft.com/keys/microsoft.asc \
       | gpg --dearmor -o /microsoft-prod.gpg

# --- runtime: the virtual environment and the application, run as a non-root user --------
FROM ${PYTHON_IMAGE} AS runtime

# libgomp1: llama.cpp's threads. msodbcsql18: ODBC Driver 18 for SQL Server.
COPY --from=microsoft-apt /microsoft-prod.gpg /usr/share/keyrings/microsoft-prod.gpg
RUN echo "deb [arch=$(dpkg --print-architecture) signed-by=/usr/share/keyrings/microsoft-prod.gpg] https://packages.microsoft.com/debian/12/prod bookworm main" \
        > /etc/apt/sources.list.d/microsoft-prod.list \
    && apt-get update \
    && ACCEPT_EULA=Y apt-get install -y --no-install-recommends libgomp1 msodbcsql18 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ezhr \
    && useradd --system --uid 10001 --gid ezhr --create-home --home-dir /home/ezhr \
       --shell /usr/sbin/nologin ezhr \
    && mkdir /data \
    && chown ezhr:ezhr /data

# Owned by root: the application user can read the code but not change it.
COPY --from=builder /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EZHR_DATABASE__URL=sqlite+aiosqlite:////data/ezhr.db

WORKDIR /app
USER 10001:10001
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/readyz', timeout=4)"]

# Migrates, seeds, then serves. Listening beyond loopback needs EZHR_AUTH__SECRET_KEY.
CMD ["ezhr-graphql", "serve", "--host", "0.0.0.0", "--port", "5000"]
