"""The reactor side of the links: TLS client connections that carry bytes between the
network and the link actors, and nothing else."""
