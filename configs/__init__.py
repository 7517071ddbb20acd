"""The shipped recipes (installed as the package ``mae_configs``; see mae_core.config.shipped_config)."""
