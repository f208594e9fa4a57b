"""Development tools: the demo, the test harness, synthetic residents, the private
PostgreSQL server of the tests, the mocks' control-API client.  The product (hub,
actors, protocols, mock_endpoints, certs) never imports this package; an architecture
contract in ``pyproject.toml`` keeps it so."""
