"""Where execution meets policy: gateway, SDK and pipelines."""
