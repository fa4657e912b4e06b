"""The network pack: what the school's network shows without logging in (nmap facts, no host probes)."""
