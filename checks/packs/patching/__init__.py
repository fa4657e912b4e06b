"""The patching pack: pending security updates, package-list age, reboot after kernel/libc updates, end-of-life releases (GB/T 22239-2019 8.1.4.4 e / 7.1.4.4 e)."""
