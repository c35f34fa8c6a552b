"""HTTP and MQTT gateway into Kafka for cars that cannot run a Kafka client.

`gateway` serves ``POST /v1/telemetry``, `bridge` moves Mosquitto's
``vehicles/+/telemetry`` into Kafka, `credentials` issues per-vehicle tokens,
`client` holds the transports a car (or the simulator) sends with.
"""
