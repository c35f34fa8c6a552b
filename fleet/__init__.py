"""The contract every stage of the platform shares.

The telemetry event and its VSS signal names, the alert vocabulary, the topic
list, Kafka client settings and the project's exceptions live here, once.
Stages import from this package; this package imports from no stage.
"""
