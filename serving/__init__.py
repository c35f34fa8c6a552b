"""The serving layer: a FastAPI API over the batch and speed views, merged at the watermark."""
