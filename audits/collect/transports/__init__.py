"""Transports: how the one batched probe script reaches a host and its output comes back.

``local`` runs it on this machine, ``ssh`` (paramiko) on a remote host, ``openssh`` (the system
client) only as the fallback for servers paramiko cannot negotiate with; ``base`` holds what they
share. Which one a host gets is its platform's choice (``audits.run.platforms``).
"""
