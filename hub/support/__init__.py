"""What every layer of the hub may use and that knows nothing of them: TLS contexts
(``tls``), structured logs (``logs``), the Prometheus series (``metrics``), and the
HTTPS client the commands and tools call the API with (``client``)."""
