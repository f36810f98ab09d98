"""schemathesis against the OpenAPI schema the app serves, for the device API (/api/v1).

The schema is loaded from /schema/openapi.json of the app itself and every generated request
goes through the ASGI app in-process. Each answer must be documented: no 5xx, a status the
operation lists, the documented content type, a body matching the documented model, and a
request that breaks the documented request schema (negative mode) refused with a 4xx. So the
schema is the truth about the device API, for the tablets' JS and for any other client.

Run twice: with a genuine device token (push, pull and redeem get past the guard; a body's
device_id that fits the schema is set to the tablet's own, so the checks after it run too) and
without one (every device route must answer a documented 401). Generation is deterministic
(derandomize, no example database) and bounded, to stay fast and repeatable in CI.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlite_utils import Database

from events import devices, keys, ops
from server.app import create_app
from tests.support.clock import NOW, Clock

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Per operation, mode and token: bounded for CI. POPPASS_FUZZ_EXAMPLES=2000 (and
# POPPASS_FUZZ_RANDOM=1 for new inputs each run rather than the same ones) digs deeper.
# The inner loop (POPPASS_FAST=1, scripts/test --fast) sends 10, like the property tests' cap.
MAX_EXAMPLES = int(os.environ.get("POPPASS_FUZZ_EXAMPLES", "10" if os.environ.get("POPPASS_FAST") == "1" else "60"))
DERANDOMIZE = os.environ.get("POPPASS_FUZZ_RANDOM", "") != "1"
DEVICE_ID = r"^[A-Za-z0-9_-]{8,64}$"


OPERATIONS = [("POST", "/api/v1/enroll"), ("POST", "/api/v1/push"), ("GET", "/api/v1/pull"), ("POST", "/api/v1/redeem")]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@dataclass
class DeviceApi:
    schema: BaseSchema  # as the app serves it, restricted to /api/v1
    device_id: str
    token: str


@pytest.fixture
def device_api(db: Database, event, clock: Clock) -> Iterator[DeviceApi]:
    """The device API's schema as the app serves it, and an enrolled tablet's id and token."""
    code = devices.create_enrollment_code(db, event.id, name="Fuzzed tablet", now=NOW)
    enrollment = devices.enroll(db, code, public_key=keys.public_key_bytes(keys.generate_private_key()), now=NOW)
    app = create_app(db, clock=clock)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app).include(path_regex="^/api/v1/")
    try:
        yield DeviceApi(schema, enrollment.device.id, enrollment.token)
    finally:
        asgi.shutdown_lifespans()  # the app's shutdown, as a server stopping would run it


def fuzz(api: DeviceApi, method: str, path: str, mode: GenerationMode, *, headers: dict[str, str]) -> Counter:
    """Send MAX_EXAMPLES generated requests to one operation; every answer must be as documented.
    Returns how many answers had each status (to see that the fuzzing got somewhere)."""
    statuses: Counter = Counter()

    @settings(
        max_examples=MAX_EXAMPLES, derandomize=DERANDOMIZE, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=api.schema[path][method].as_strategy(generation_mode=mode))
    def send(case) -> None:
        body = case.body
        if (
            isinstance(body, dict)
            and isinstance(body.get("device_id"), str)
            and re.fullmatch(DEVICE_ID, body["device_id"])
        ):
            # So that the server goes past "is this your device" to the checks after it. A
            # device_id the schema refuses is left alone: a negative case stays negative.
            body["device_id"] = api.device_id
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses[response.status_code] += 1

    send()
    return statuses


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[p for _, p in OPERATIONS])
def test_the_device_api_answers_as_documented_with_a_device_token(device_api, method, path, mode) -> None:
    statuses = fuzz(device_api, method, path, mode, headers={"Authorization": f"Bearer {device_api.token}"})
    if mode is GenerationMode.POSITIVE and path in ("/api/v1/push", "/api/v1/pull"):
        assert statuses[200], f"the fuzzing never got past the checks: {dict(statuses)}"


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[p for _, p in OPERATIONS])
def test_the_device_api_answers_as_documented_without_one(device_api, method, path) -> None:
    statuses = fuzz(device_api, method, path, GenerationMode.POSITIVE, headers={})
    if path != "/api/v1/enroll":
        assert set(statuses) == {401}


def test_the_schema_documents_the_request_bodies_the_decoders_accept(device_api) -> None:
    raw = device_api.schema.raw_schema["paths"]
    bodies = {path: raw[path][method.lower()].get("requestBody") for method, path in OPERATIONS}
    assert bodies["/api/v1/pull"] is None
    for path, decoder_type in (
        ("/api/v1/enroll", ops.EnrollRequest),
        ("/api/v1/push", ops.PushBatch),
        ("/api/v1/redeem", ops.OnlineRedeem),
    ):
        assert bodies[path]["required"] is True
        documented = bodies[path]["content"]["application/json"]["schema"]
        fields = msgspec.structs.fields(decoder_type)
        assert set(documented["properties"]) == {f.encode_name for f in fields}
        assert set(documented["required"]) == {f.encode_name for f in fields if f.required}
        assert documented["additionalProperties"] is False
