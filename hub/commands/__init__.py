"""The ``jukihub`` command, a module per group of its subcommands:

- ``main``: the parser, and running the hub and the mocks, its store's migration, dev
  certificates, a consistency check and an export from the command line;
- ``operate``: what operations staff do with a running hub (status, dead letters,
  maintenance mode), through its API;
- ``admin``: what administrators and auditors do (staff accounts, the 操作ログ, backups);
- ``load``: the initial load of a whole register.

``python -m hub.commands`` is ``jukihub``.
"""
