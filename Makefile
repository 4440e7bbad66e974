# ezhr-graphql developer workflow. Every target runs through uv.
# `make alembic-revision "add documents"` takes the message as a bare word.

SERVICES ?=
COMMAND ?= sh
COMPOSE ?= docker compose
UV ?= uv

.DEFAULT_GOAL := help
.PHONY: help install run serve test test-postgres lint format typecheck schema bench \
	alembic-revision alembic-upgrade-head alembic-downgrade \
	build up down logs exec

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

alembic-revision: ## autogenerate a migration: make alembic-revision "<message>"
	$(UV) run ezhr-graphql db revision -m "$(filter-out $@,$(MAKECMDGOALS))"

alembic-upgrade-head: ## apply every migration
	$(UV) run ezhr-graphql db upgrade head

alembic-downgrade: ## undo the latest migration
	$(UV) run ezhr-graphql db downgrade -1

build: ## build the compose services
	$(COMPOSE) build $(SERVICES)

up: ## start compose services: make up SERVICES=database
	$(COMPOSE) up -d $(SERVICES)

down: ## stop compose services
	$(COMPOSE) down

logs: ## follow logs: make logs SERVICES=api-server
	$(COMPOSE) logs -f $(SERVICES)

exec: ## run a command in a service: make exec SERVICES=api-server COMMAND="sh"
	$(COMPOSE) exec $(SERVICES) $(COMMAND)

# Swallow the bare-word arguments of alembic-revision so make does not treat them as targets.
ifeq (alembic-revision,$(firstword $(MAKECMDGOALS)))
%:
	@:
endif
