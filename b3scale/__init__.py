"""b3scale: a multi-tenant load balancer for BigBlueButton."""

__version__ = "0.1.0"
