"""Local infrastructure: a real Apache Kafka cluster from Maven Central jars, run as processes."""
