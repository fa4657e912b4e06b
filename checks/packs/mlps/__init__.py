"""The MLPS 2.0 (等级保护) host pack: GB/T 22239-2019 安全计算环境 checks for levels 2 and 3."""
