"""checks.parsers.logagents: where each log shipping agent sends what it collects."""
from checks.parsers.logagents import agent_of_process, agent_outputs

from ._grep import grep_h


def _out(path, text):
    return agent_outputs(grep_h({path: text}))


def test_filebeat_logstash_output_is_remote_and_file_output_is_not():
    o = _out("/etc/filebeat/filebeat.yml", "filebeat.inputs:\n- type: filestream\n  paths:\n    - /var/log/auth.log\n"
             "#output.elasticsearch:\n#  hosts: [\"localhost:9200\"]\noutput.logstash:\n  hosts: [\"10.0.0.7:5044\"]\n")
    assert [(x["agent"], x["type"], x["target"], x["remote"]) for x in o] == [("filebeat", "logstash", "10.0.0.7", True)]
    o = _out("/etc/filebeat/filebeat.yml", "output.file:\n  path: /tmp/filebeat\n")
    assert o and not any(x["remote"] for x in o)
    o = _out("/etc/filebeat/filebeat.yml", "output.elasticsearch.hosts: ['https://es.example:9200']\n"
             "output.elasticsearch.password: s3cr3t-value\n")
    assert o[0]["target"] == "es.example" and "s3cr3t" not in repr(o)


def test_fluent_bit_classic_and_yaml_outputs():
    o = _out("/etc/fluent-bit/fluent-bit.conf", "[INPUT]\n    Name systemd\n[OUTPUT]\n    Name  forward\n    Match *\n"
             "    Host  10.0.0.8\n    Port  24224\n")
    assert [(x["type"], x["target"], x["remote"]) for x in o] == [("forward", "10.0.0.8", True)]
    o = _out("/etc/fluent-bit/fluent-bit.conf", "[OUTPUT]\n    Name stdout\n    Match *\n")
    assert o and not o[0]["remote"]
    o = _out("/etc/fluent-bit/fluent-bit.yaml", "pipeline:\n  inputs:\n    - name: systemd\n  outputs:\n"
             "    - name: syslog\n      host: logs.example\n")
    assert [(x["type"], x["target"], x["remote"]) for x in o] == [("syslog", "logs.example", True)]


def test_vector_sinks_remote_and_console():
    o = _out("/etc/vector/vector.toml", '[sources.j]\ntype = "journald"\n[sinks.out]\ntype = "vector"\n'
             'inputs = ["j"]\naddress = "10.0.0.9:6000"\n[sinks.dbg]\ntype = "console"\n')
    assert [(x["type"], x["target"], x["remote"]) for x in o] == [("vector", "10.0.0.9", True), ("console", "", False)]
    o = _out("/etc/vector/vector.yaml", "sources:\n  j:\n    type: journald\nsinks:\n  loki:\n    type: loki\n"
             "    inputs: [j]\n    endpoint: http://loki.example:3100\n")
    assert [(x["type"], x["target"], x["remote"]) for x in o] == [("loki", "loki.example", True)]


def test_wazuh_nxlog_and_journal_upload():
    o = _out("/var/ossec/etc/ossec.conf", "<ossec_config>\n  <client>\n    <server>\n      <address>10.0.0.10</address>\n"
             "      <port>1514</port>\n    </server>\n  </client>\n</ossec_config>\n")
    assert [(x["agent"], x["target"], x["remote"]) for x in o] == [("wazuh-agent", "10.0.0.10", True)]
    assert not _out("/var/ossec/etc/ossec.conf", "<ossec_config><syscheck/></ossec_config>\n")
    o = _out("/etc/nxlog/nxlog.conf", "<Output out>\n    Module  om_tcp\n    Host    10.0.0.11\n    Port 514\n</Output>\n"
             "<Output f>\n    Module om_file\n    File '/var/log/x'\n</Output>\n")
    assert [(x["type"], x["target"], x["remote"]) for x in o] == [("om_tcp", "10.0.0.11", True), ("file", "", False)]
    o = _out("/etc/systemd/journal-upload.conf", "[Upload]\nURL=https://logs.example:19532\n")
    assert [(x["target"], x["remote"]) for x in o] == [("logs.example", True)]
    assert not _out("/etc/systemd/journal-upload.conf", "[Upload]\n# URL=\n")


def test_agent_processes_by_name_cut_to_15_characters():
    assert agent_of_process("filebeat") == "filebeat" and agent_of_process("wazuh-agentd") == "wazuh-agent"
    assert agent_of_process("td-agent-bit") == "fluent-bit" and agent_of_process("systemd-journal") is None
    assert agent_of_process("sshd") is None


def test_hostile_agent_configuration_is_bounded_and_cleaned():
    o = _out("/etc/fluent-bit/fluent-bit.conf", "[OUTPUT]\n Name forward\n Host " + "\x1b[31m" + "a" * 5000 + "\n")
    assert len(o[0]["target"]) <= 200 and "\x1b" not in o[0]["target"]


def test_credentials_in_a_destination_url_are_never_returned():
    o = _out("/etc/systemd/journal-upload.conf", "[Upload]\nURL=https://uploader:Secr3tPw@logs.example:19532\n")
    assert o[0]["target"] == "logs.example" and "Secr3tPw" not in repr(o) and "uploader" not in repr(o)
    o = _out("/etc/vector/vector.yaml", "sinks:\n  es:\n    type: elasticsearch\n    endpoints:\n"
             "      - https://elastic:Secr3tPw@es.example:9200\n    auth:\n      password: Secr3tPw\n")
    assert o[0]["target"] == "es.example" and "Secr3tPw" not in repr(o)
