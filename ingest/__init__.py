"""HTTP and MQTT gateway for cars that cannot run a Kafka client (arrives with its own issue)."""
