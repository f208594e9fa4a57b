"""``/metrics`` on its own listener, for the monitoring certificate only.  Where the
intake runs in worker processes, a scrape first collects the meters they hold."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import REGISTRY
from prometheus_client.twisted import MetricsResource
from twisted.internet import defer
from twisted.web import resource, server

from hub.support.tls import peer_common_name

log = logging.getLogger("jukihub.app")


class MetricsPage(resource.Resource):
    isLeaf = True

    def __init__(self, allowed: tuple[str, ...], log_scrapes: bool = False,
                 before: Callable[[], defer.Deferred[None]] | None = None) -> None:
        super().__init__()
        self.allowed = allowed
        self.inner = MetricsResource(registry=REGISTRY)
        self.log_scrapes = log_scrapes
        self.before = before  # what a scrape waits for first (the intake workers' meters)
        self.scrapes = 0

    def render(self, request: server.Request) -> bytes | int:
        client = peer_common_name(request.transport)
        if client not in self.allowed:
            log.warning("scrape refused", extra={"event": "access.refused", "client": client,
                                                 "right": "metrics.read",
                                                 "code": "not_permitted"})
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
        if self.before is None:
            result: bytes | int = self.inner.render(request)
            return result
        self.before().addBoth(lambda _: self._render_now(request))
        return server.NOT_DONE_YET

    def _render_now(self, request: server.Request) -> None:
        result = self.inner.render(request)
        if result is not server.NOT_DONE_YET and not request.finished:
            request.write(result)
            request.finish()
