"""The campus lab: real OpenSSH hosts in Linux network namespaces for integration tests (root only)."""
