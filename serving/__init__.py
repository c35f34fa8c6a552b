"""FastAPI layer that merges the batch and speed views (arrives with its own issue)."""
