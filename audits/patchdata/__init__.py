"""Auditor-side patch data: what the auditor knows about security fixes and vulnerabilities, joined
with a host's installed packages by the run's enrichers (``audits.run.enrich``)."""
