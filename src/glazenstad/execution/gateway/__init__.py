"""The gateway in front of source APIs: decide, enforce obligations, log, propagate traces."""

from glazenstad.execution.gateway.app import Gateway, create_gateway
from glazenstad.execution.gateway.config import GatewayConfigError, load_gateway_config

__all__ = ["Gateway", "GatewayConfigError", "create_gateway", "load_gateway_config"]
