"""The domain: the register's rules, routing, queries, consistency checks, send
batches and each link's inbound effects — plain functions and data.  No actor, no
Twisted, no pykka here (an architecture contract in ``pyproject.toml`` keeps it so);
SQL lives in ``hub.store``."""
