"""Where an organisation stands among its peers on a shared installation (opt-in, aggregate)."""
