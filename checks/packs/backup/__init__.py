"""The backup pack: declared backup policies measured on the host (GB/T 22239-2019 8.1.4.9 a/b, 7.1.4.8 a/b, 8.1.10.11 c)."""
