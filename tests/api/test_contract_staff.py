"""Contract of the secured operations, called by staff and systems that hold every right.

Without a token a secured operation only ever answers 401, so the anonymous run in
`test_contract.py` never reaches its code. Here schemathesis sends the bearer token of
`CREDENTIALS` for each operation's security scheme (staff or system) and fixes the organisation
to the demo municipality those tokens belong to, so requests get past authentication and
organisation checks into validation, storage and the answers. Schemathesis still sends requests
without the token too, and checks that those are refused.

A stateful run then chains operations through the links schemathesis infers from the document:
a signal filed and then read and moved on, a data breach registered and then read, changed and
closed; each answer is checked against the document again.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

from tests.api.contract_support import (
    CREDENTIALS,
    OPENAPI,
    ORGANISATION,
    contract_app,
    secured,
)

READ_EXTENSION = "/logboek/processing-activities"

app = contract_app()


def _authenticated() -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_asgi(OPENAPI, app)
    schema.config.auth.openapi.schemes = {
        name: schemathesis.config.HttpBearerAuthConfig(bearer=token)
        for name, token in CREDENTIALS.items()
    }
    # Rules a JSON schema cannot state (a decision or breach that must exist, one moment before
    # another, dates between 2000 and 2100) refuse schema-valid data with the documented 400
    # problem, whose body is checked like any other answer.
    schema.config.checks.positive_data_acceptance.expected_statuses = [
        "2xx",
        "400",
        "401",
        "403",
        "404",
        "409",
    ]
    # A batch over its item limit is refused as too large (413 problem, see test_limits.py),
    # like a body over its byte limit: a refusal, not an acceptance of the invalid batch.
    schema.config.checks.negative_data_rejection.expected_statuses = [
        *schema.config.checks.negative_data_rejection.expected_statuses,
        "413",
    ]
    return schema


def in_own_organisation(case: schemathesis.Case) -> schemathesis.Case:
    """The case about the organisation the tokens belong to, unless the path is the invalid
    part: a random organisation id only ever gets a 404, which tells nothing about the route."""
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    if case.path_parameters and "organisationId" in case.path_parameters and not negative:
        case.path_parameters["organisationId"] = ORGANISATION
    return case


schema = _authenticated()
# The read extension's body needs "at least one of three filters" (an anyOf of `required`);
# schemathesis' coverage phase builds edge cases that ignore a property's pattern under such an
# anyOf, so that operation runs the example and fuzzing phases only.
read_extension = _authenticated()
read_extension.config.phases.coverage.enabled = False


secured_operations = schema.include(func=lambda ctx: secured(ctx.operation)).exclude(
    path=READ_EXTENSION
)


@secured_operations.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_secured_api_matches_its_openapi(case: schemathesis.Case) -> None:
    in_own_organisation(case).call_and_validate()


@read_extension.include(path=READ_EXTENSION).parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_read_extension_matches_its_openapi(case: schemathesis.Case) -> None:
    in_own_organisation(case).call_and_validate()


class Workflows(schema.include(path_regex=r"/(signals|data-breaches)").as_state_machine()):  # type: ignore[misc]
    """Signals and data breaches created, then read and changed through the inferred links."""

    def before_call(self, case: schemathesis.Case) -> None:
        in_own_organisation(case)


TestSignalAndBreachWorkflows = Workflows.TestCase
TestSignalAndBreachWorkflows.settings = settings(
    max_examples=12,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
