"""campus-audit tests."""
