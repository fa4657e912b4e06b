"""The auditor's own data about patches, held on the auditor's machine and joined with a host's facts
before its checks run (``audits.run.enrich``): the index of security fixes (``index.py``: the
Debian/Ubuntu security suites' ``Packages`` and the RHEL family's ``updateinfo.xml``, fetched by the
auditor, cached by their Release date or imported for air-gapped sites), with the archive formats in
``debrepo.py``/``rpmrepo.py`` and HTTP in ``fetch.py``. Nothing here talks to an audited host."""
