"""The management API, on its own port (``--admin-port``): see ``app``."""
