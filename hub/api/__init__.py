"""The HTTP API on the intake listener: the register system's changes, the inbox, and
staff operations — one route table, one dispatch, handlers grouped by resource, and
the OpenAPI document (``openapi.yaml``) as the contract."""
