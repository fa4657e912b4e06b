"""The disaster-recovery pack: declared RPO/RTO and standby of level-3 systems, DR plan review, drills, standby reachability, emergency plans (GB/T 22239-2019 8.1.4.9 c, 8.1.10.12, 8.1.10.13)."""
