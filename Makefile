# ezhr-graphql developer workflow. Local targets run through uv; build, up, down, logs
# and exec drive the docker compose stack (docker-compose.yml, settings from .env).
# `make alembic-revision "add documents"` takes the message as a bare word.

# Compose services to act on, e.g. `make up SERVICES=database`; empty means all.
SERVICES ?=
COMMAND ?= sh
# `make down VOLUMES=1` also deletes the volumes, the databases' data with them.
VOLUMES ?=
COMPOSE ?= docker compose
UV ?= uv

.DEFAULT_GOAL := help
.PHONY: help install run serve test test-postgres lint format typecheck schema bench \
	alembic-revision alembic-upgrade-head alembic-downgrade \
	build up down logs exec config

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-22s %s\n", $$1, $$2}'

install: ## install dependencies from uv.lock
	$(UV) sync --frozen

run: ## migrate, seed and serve on port 5000 (GraphiQL at /graphql)
	$(UV) run ezhr-graphql serve

serve: run ## alias of run

test: ## run the test suite (SQLite; set EZHR_TEST_DATABASE_URL for PostgreSQL)
	$(UV) run pytest

test-postgres: ## run the test suite against the local PostgreSQL
	EZHR_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test $(UV) run pytest

lint: ## ruff, formatting and mypy
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: ## format the code
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

schema: ## export schema.graphql from the live schema
	$(UV) run ezhr-graphql schema export

bench: ## HTTP benchmark: our stack against bare Starlette, graphql-core and stock Strawberry
	$(UV) run python bench/http_bench.py

# The message: the words after the target, or MESSAGE="...".
REVISION_MESSAGE = $(strip $(or $(MESSAGE),$(filter-out alembic-revision,$(MAKECMDGOALS))))

alembic-revision: ## autogenerate a migration: make alembic-revision "<message>"
	$(if $(REVISION_MESSAGE),,$(error give the migration a message: make alembic-revision "add documents"))
	$(UV) run ezhr-graphql db revision -m "$(REVISION_MESSAGE)"

alembic-upgrade-head: ## apply every migration
	$(UV) run ezhr-graphql db upgrade head

alembic-downgrade: ## undo the latest migration
	$(UV) run ezhr-graphql db downgrade -1

build: ## build the compose services
	$(COMPOSE) build $(SERVICES)

up: ## start compose services: make up SERVICES=database
	$(COMPOSE) up -d $(SERVICES)

down: ## stop and remove compose services (VOLUMES=1 deletes their data too)
	$(COMPOSE) down $(if $(VOLUMES),--volumes) $(SERVICES)

logs: ## follow logs: make logs SERVICES=api-server
	$(COMPOSE) logs -f $(SERVICES)

exec: ## run a command in one service: make exec SERVICES=api-server COMMAND="sh"
	$(if $(filter 1,$(words $(SERVICES))),,$(error exec runs in one service: make exec SERVICES=api-server COMMAND="sh"))
	$(COMPOSE) exec $(SERVICES) $(COMMAND)

config: ## print the compose file as compose resolves it with .env
	$(COMPOSE) config

# Swallow the bare-word arguments of alembic-revision so make does not treat them as targets.
ifeq (alembic-revision,$(firstword $(MAKECMDGOALS)))
%:
	@:
endif
