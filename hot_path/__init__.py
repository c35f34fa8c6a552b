"""Faust workers in group hot-path that flag cars needing attention (arrives with its own issue)."""
