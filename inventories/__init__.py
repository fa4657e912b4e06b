"""Example inventories, including the built-in default localhost.yaml (package data)."""
