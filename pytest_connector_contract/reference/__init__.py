"""The reference target: an in-memory emulation of the Elasticsearch endpoints the conformance suite uses.

It exists so that the suite can be run, developed and tested without a cluster, and so that the project
can prove its checks against something that behaves exactly like Elasticsearch (the faithful reference must
score 100 %) and against deliberately broken variants of it (the "mutants" of the tests, built by
subclassing :class:`~pytest_connector_contract.reference.endpoints.ReferenceTarget` and overriding one
small method each).

- :mod:`~pytest_connector_contract.reference.messages`: the request, response and error values
- :mod:`~pytest_connector_contract.reference.rest`: Elasticsearch's REST layer (dispatch, media types,
  parameters, error rendering, the authentication and authorization steps)
- :mod:`~pytest_connector_contract.reference.reader`: the body reader (ObjectParser over Jackson-like tokens)
- :mod:`~pytest_connector_contract.reference.endpoints`: the connector endpoints and their store
- :mod:`~pytest_connector_contract.reference.documents`: the stored document's defaults and field rules
- :mod:`~pytest_connector_contract.reference.security`: credentials, principals, cluster privileges
- :mod:`~pytest_connector_contract.reference.server`: the target behind a real HTTP socket

Nothing here imports pytest.
"""
