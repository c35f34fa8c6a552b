"""The cold-path group: an immutable master dataset and Spark batch views (a later issue)."""
