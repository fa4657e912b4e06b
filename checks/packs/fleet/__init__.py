"""The fleet pack: findings about the connection itself (host keys, SSH algorithms)."""
