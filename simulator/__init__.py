"""Fleet simulator: physically plausible car telemetry with labelled faults, keyed by VIN."""
