"""The OpenAPI document: valid, in step with the app's /api/v1 routes, and the API fuzzed against it."""

import re

import pytest
import schemathesis
from dashboardseed import API_TOKEN
from dashboardseed import seeded_app as seeded_app_over
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

from webhooks.api_dashboard import load_openapi


class LateBoundApp:
    """A WSGI app bound after collection: the seeded store is a fixture, the schema is needed at import."""

    app = None

    def __call__(self, environ, start_response):
        assert self.app is not None, "request the seeded_app fixture"
        return self.app(environ, start_response)


APP = LateBoundApp()
schema = schemathesis.openapi.from_dict(load_openapi())
schema.app = APP  # in-process, through Werkzeug's WSGI client


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory):
    with seeded_app_over(f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'lsqa.sqlite3'}") as app:
        APP.app = app
        yield app
        APP.app = None


def app_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            operations |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return operations


def test_openapi_document_is_valid():
    validate(load_openapi())


def test_openapi_document_lists_exactly_the_app_routes(seeded_app):
    documented = {
        (method.upper(), path)
        for path, item in load_openapi()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = app_operations(seeded_app)
    assert served - documented == set(), "routes missing from webhooks/openapi.yaml"
    assert documented - served == set(), "documented routes the app does not serve"


def test_openapi_document_is_served_without_a_token(seeded_app):
    response = seeded_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json() == load_openapi()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_document_under_fuzzing(case, seeded_app):
    case.call_and_validate(headers={"Authorization": f"Bearer {API_TOKEN}"})
