"""The device pack: network devices (Huawei VRP, H3C Comware, Ruijie RGOS, Cisco IOS) judged from their
configuration through the vendor-neutral model of ``checks.parsers.devices``."""
