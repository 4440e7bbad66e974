"""What operators watch: Prometheus metrics and structured JSON logs.

The lowest layer of the package: anything may record a metric or log with the
request's context, and this package imports nothing of ours.
"""
