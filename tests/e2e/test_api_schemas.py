"""Schemathesis against the app's own OpenAPI schema: for every operation of each HTTP API, cases
generated from the schema (valid and invalid) never get a 5xx, and every answer matches what the
schema says (status code, content type, body, headers).

The schema is the one the running app serves at ``/openapi.json``, so a route added to an API is
fuzzed without touching this file. Each API under test names the paths it owns and how to get
in; the management API joins :data:`APIS` when it lands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema, Case, GenerationMode

from atende.api import create_app
from atende.config import Settings
from atende.connectors.demo import business_today, demo_database_url, seed_demo_erp
from atende.demo import ensure_tenant
from atende.main import Container
from atende.tenancy.tokens import issue_token
from tests.support.app import serving_in_thread


@dataclass(frozen=True)
class ApiUnderTest:
    name: str
    #: Its operations are the schema's paths that start with this.
    path_prefix: str
    #: Seeds what the API serves and returns the headers that authenticate a caller.
    prepare: Callable[[Container], Awaitable[dict[str, str]]]
    #: Schemathesis configuration (its `schemathesis.toml` keys): where the API's rules go beyond
    #: what OpenAPI can say, which answers a schema-valid request may get.
    config: dict[str, Any] = field(default_factory=dict)


async def business_api(container: Container) -> dict[str, str]:
    """A tenant on the demo ERP, and a service token of that tenant (as tests/business do)."""
    tenant_id = await ensure_tenant(container.sessions, "loja", "Loja", {"erp": {"kind": "demo"}})
    await seed_demo_erp(demo_database_url(container.settings.var_dir), today=business_today())
    return {"Auth-Token": await issue_token(container.sessions, tenant_id, "schemathesis")}


#: Schema-valid requests the Business API may still refuse, each by a documented answer: a CPF or
#: CNPJ whose check digits fail (422, ``reason``), an order the business refuses (409), a record
#: that is not there (404). Never a 400: that would be the schema and validation disagreeing.
BUSINESS_ACCEPTS = ["2XX", "401", "404", "409", "422"]
BUSINESS_CONFIG = {
    "checks": {"positive_data_acceptance": {"expected-statuses": BUSINESS_ACCEPTS}},
    "operations": [
        # Stock needs `sku` or `q`, a rule OpenAPI parameters cannot express: 400 without both.
        {
            "include-path": "/api/v1/vendas/estoque",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": [*BUSINESS_ACCEPTS, "400"]}
            },
        }
    ],
}

APIS = [ApiUnderTest("business", "/api/v1/", business_api, BUSINESS_CONFIG)]


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]


@pytest.fixture(params=APIS, ids=lambda api: api.name)
def api(request: pytest.FixtureRequest) -> ApiUnderTest:
    chosen: ApiUnderTest = request.param
    return chosen


@pytest.fixture
def target(api: ApiUnderTest, settings: Settings) -> Iterator[Target]:
    """The app over real HTTP in a thread of its own (Schemathesis calls it synchronously)."""
    headers = asyncio.run(_prepare(api, settings))
    with serving_in_thread(create_app(Container(settings), workers=False)) as url:
        yield Target(url, headers)


async def _prepare(api: ApiUnderTest, settings: Settings) -> dict[str, str]:
    container = Container(settings)
    try:
        return await api.prepare(container)
    finally:
        await container.aclose()


@pytest.fixture
def api_schema(api: ApiUnderTest, target: Target) -> BaseSchema:
    served = httpx.get(f"{target.url}/openapi.json")
    assert served.status_code == 200
    config = schemathesis.Config.from_dict(api.config)
    return schemathesis.openapi.from_dict(served.json(), config=config)


# Schemathesis' own pytest plugin (``from_fixture``/``parametrize``) does not run on pytest 9
# (it reads a private attribute pytest dropped), so each operation's strategy drives a Hypothesis
# test of its own here, one subtest per operation and generation mode.
PROFILE = settings(
    max_examples=10,
    deadline=None,  # a request to the served app, not a pure function: its time varies with load
    # Schemathesis builds negative cases by mutating whole schemas, which Hypothesis counts as
    # slow generation; the example count above is what bounds the run.
    suppress_health_check=[HealthCheck.too_slow],
)


def test_that_every_operation_answers_by_its_schema_and_never_5xx(
    api: ApiUnderTest, api_schema: BaseSchema, target: Target, subtests: pytest.Subtests
) -> None:
    # Filtered here: Schemathesis' `include()` is ignored once the config has `operations`.
    operations = [
        operation
        for operation in (result.ok() for result in api_schema.get_all_operations())
        if operation.path.startswith(api.path_prefix)
    ]
    assert operations, "the schema has no operation for this API"
    with requests.Session() as http:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                with subtests.test(operation=operation.label, mode=mode.value):

                    @PROFILE
                    @given(case=operation.as_strategy(generation_mode=mode))
                    def answers_by_its_schema(case: Case) -> None:
                        case.call_and_validate(
                            base_url=target.url, headers=target.headers, session=http
                        )

                    answers_by_its_schema()
