"""``/metrics`` on its own listener, for the monitoring certificate only."""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY
from prometheus_client.twisted import MetricsResource
from twisted.web import resource, server

from hub.tls import peer_common_name

log = logging.getLogger("jukihub.app")


class MetricsPage(resource.Resource):
    isLeaf = True

    def __init__(self, allowed: tuple[str, ...], log_scrapes: bool = False) -> None:
        super().__init__()
        self.allowed = allowed
        self.inner = MetricsResource(registry=REGISTRY)
        self.log_scrapes = log_scrapes
        self.scrapes = 0

    def render(self, request: server.Request) -> bytes | int:
        client = peer_common_name(request.transport)
        if client not in self.allowed:
            request.setResponseCode(403)
            return b"client certificate not allowed\n"
        if request.path != b"/metrics":
            request.setResponseCode(404)
            return b"see /metrics\n"
        self.scrapes += 1
        if self.log_scrapes:  # for an operator wiring up Prometheus (and for the tests)
            log.info("metrics scraped", extra={"event": "metrics.scraped", "client": client,
                                               "scrape": self.scrapes})
        # prometheus_client's resource is WSGI: it renders in Twisted's thread pool and
        # answers NOT_DONE_YET here.
        result: bytes | int = self.inner.render(request)
        return result
