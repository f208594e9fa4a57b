"""A mock endpoint on the network: its link listener (mutual TLS, a ``MockProtocol`` per
connection) and its loopback HTTP control API (``ControlAPI``).  The endpoint itself
(``mock_endpoints.base``) knows neither; the two adapters know it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.protocol import Factory
from twisted.web import server

from hub.support.tls import server_options
from mock_endpoints.base import MockEndpoint
from mock_endpoints.control import ControlAPI
from mock_endpoints.protocol import MockProtocol


def factory(endpoint: MockEndpoint) -> Factory:
    """The link listener's factory: one ``MockProtocol`` per connection."""
    return Factory.forProtocol(lambda: MockProtocol(endpoint))


def listen(endpoint: MockEndpoint, reactor: Any, certs_dir: Path, party: str, host: str,
           port: int, control_port: int) -> tuple[Any, Any]:
    """Start the TLS listener and the control API (loopback only); return both
    listening ports."""
    tls = reactor.listenSSL(port, factory(endpoint), server_options(certs_dir, party),
                            interface=host)
    site = server.Site(ControlAPI(endpoint))
    site.displayTracebacks = False
    control = reactor.listenTCP(control_port, site, interface="127.0.0.1")
    return tls, control
