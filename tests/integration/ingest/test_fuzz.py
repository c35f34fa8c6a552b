"""Hostile bodies against the running gateway: never a 5xx, every refusal in the DLQ."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.ingest.builders import event, new_vin

VIN = new_vin()
KEYS = list(event(VIN, 0)) + ["Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure", "trip_id",
                              "Vehicle.Diagnostics.DTCList", "__proto__", ""]  # fmt: skip

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_event(draw: st.DrawFn) -> dict[str, Any]:
    body = event(VIN, draw(st.integers(min_value=0, max_value=10**6)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        key = draw(st.sampled_from(KEYS))
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(json_values)
    return body


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # NaN/Infinity tokens on purpose


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(dumps),
    mutated_event().map(dumps),
    st.lists(mutated_event(), min_size=1, max_size=8).map(dumps),
    st.lists(json_values, max_size=5).map(dumps),
    st.text(max_size=200).map(lambda t: ("[" + t).encode("utf-8", "surrogatepass")),
)


def test_hostile_bodies_get_4xx_and_every_refusal_is_dead_lettered(
    gateway, issue, topics, read_to_end
):
    token = issue(VIN)
    totals = {"accepted": 0, "rejected": 0}
    client = httpx.Client(base_url=gateway.url, timeout=30)

    @settings(
        max_examples=100, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(body=bodies)
    def post(body: bytes) -> None:
        response = client.post(
            "/v1/telemetry", content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code < 500, (body, response.text)
        result = response.json()
        assert result["accepted"] + result["rejected"] == len(result["results"])
        totals["accepted"] += result["accepted"]
        totals["rejected"] += result["rejected"]
        for r in result["results"]:
            if r["status"] == "rejected":
                assert r["reason"] and r["field"] and r["problem"]

    try:
        post()
    finally:
        client.close()
    assert totals["rejected"] > 0
    key = VIN.encode()
    dead = [m for m in read_to_end(topics.dead_letter) if m.key() == key]
    good = [m for m in read_to_end(topics.telemetry) if m.key() == key]
    assert len(dead) == totals["rejected"]
    assert len(good) == totals["accepted"]
