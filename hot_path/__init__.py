"""The hot path: Faust workers in group hot-path that flag cars needing attention now."""
