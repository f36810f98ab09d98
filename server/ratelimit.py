"""A small in-process rate limit for public forms: at most `limit` requests per `window_s`
seconds per client address. One process serves an event (docs/adr/0002), so memory is enough;
the table of addresses is bounded, so a flood of addresses cannot grow it without end."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

from litestar.connection import ASGIConnection


def client_address(connection: ASGIConnection) -> str:
    """Whom a limit counts: the client's address. Behind a TLS proxy named by `poppass serve
    --forwarded-allow-ips`, uvicorn puts the address the proxy forwarded here; without the flag
    it is the proxy's own (everyone in one bucket), and no client can pick its own."""
    return connection.client.host if connection.client else ""


class RateLimiter:
    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float], max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, client: str) -> float:
        """0 if `client` may go on (and counts this request); otherwise the seconds to wait."""
        now = self.clock()
        hits = self._hits.pop(client, None) or deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        self._hits[client] = hits  # most recently seen last
        while len(self._hits) > self.max_clients:
            self._hits.popitem(last=False)
        if len(hits) >= self.limit:
            return max(hits[0] + self.window_s - now, 0.001)
        hits.append(now)
        return 0
