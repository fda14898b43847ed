"""pytest-connector-contract: prove that a server implements Elasticsearch's connector status API."""

__version__ = "0.1.0"
