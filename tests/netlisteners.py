"""Real loopback services for the network-view tests, each with a planted weakness: a telnet-like
banner, an unauthenticated Redis-protocol responder, a TLS 1.0 server with an expired self-signed
certificate, plain HTTP without security headers or redirect, and an sshd with weak algorithms.

They bind standard ports on an unusual loopback address (127.77.5.x), so other tests' services on
127.0.0.1 are untouched. ``Listeners(addr).start()`` / ``.stop()``; ``port_in_use`` tells a clash.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REDIS_INFO = ("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\n"
              "arch_bits:64\r\nprocess_id:4242\r\nuptime_in_seconds:100\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TelnetLike(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(b"\xff\xfb\x01\xff\xfb\x03Debian GNU/Linux 12\r\nlogin: ")
            self.request.settimeout(3)
            self.request.recv(256)
        except OSError:
            pass


class RedisLike(socketserver.StreamRequestHandler):
    """Answers PING and INFO (inline or RESP arrays) without asking for a password."""

    def handle(self):
        self.request.settimeout(5)
        try:
            while True:
                line = self.rfile.readline(4096)
                if not line:
                    return
                word = line.strip().lower()
                if word.startswith((b"*", b"$")):
                    continue  # RESP framing; the command word follows on its own line
                if word.startswith(b"ping"):
                    self.wfile.write(b"+PONG\r\n")
                elif word.startswith(b"info"):
                    body = REDIS_INFO.encode()
                    self.wfile.write(b"$%d\r\n%s\r\n" % (len(body), body))
                else:
                    self.wfile.write(b"-ERR unknown command\r\n")
        except OSError:
            pass


class AnonymousFTP(socketserver.StreamRequestHandler):
    """Accepts USER anonymous with any PASS (code 230), like vsftpd with anonymous_enable=YES; no data channel."""

    def handle(self):
        self.request.settimeout(5)
        try:
            self.wfile.write(b"220 (vsFTPd 3.0.3)\r\n")
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return
                cmd = line.strip().split(b" ")[0].upper()
                reply = {b"USER": b"331 Please specify the password.", b"PASS": b"230 Login successful.",
                         b"SYST": b"215 UNIX Type: L8", b"QUIT": b"221 Goodbye."}.get(cmd, b"502 Command not implemented.")
                self.wfile.write(reply + b"\r\n")
                if cmd == b"QUIT":
                    return
        except OSError:
            pass


class MemcachedLike(socketserver.StreamRequestHandler):
    """Answers the ASCII stats commands without authentication, like memcached without SASL."""

    def handle(self):
        self.request.settimeout(5)
        try:
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return
                if line.strip() == b"stats":
                    self.wfile.write(b"STAT pid 4242\r\nSTAT uptime 100\r\nSTAT time 1796000000\r\n"
                                     b"STAT pointer_size 64\r\nSTAT curr_connections 2\r\nSTAT total_connections 9\r\n"
                                     b"END\r\n")
                elif line.startswith(b"stats"):
                    self.wfile.write(b"STAT maxconns 1024\r\nSTAT tcpport 11211\r\nSTAT udpport 0\r\n"
                                     b"STAT auth_enabled_sasl no\r\nEND\r\n")
                else:
                    self.wfile.write(b"ERROR\r\n")
        except OSError:
            pass


class ElasticLike(BaseHTTPRequestHandler):
    """Elasticsearch 8 with security disabled: 200 and its product header to anyone."""

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("X-elastic-product", "Elasticsearch")
        self.send_header("content-type", "application/json")
        self.end_headers()

    def do_GET(self):
        self.do_HEAD()
        self.wfile.write(b'{"cluster_name":"campus","tagline":"You Know, for Search"}')

    def log_message(self, *a):
        pass


class PlainHTTP(BaseHTTPRequestHandler):
    """200 OK with no security headers and no redirect."""

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()

    def do_GET(self):
        self.do_HEAD()
        self.wfile.write(b"<html><title>campus</title></html>")

    def log_message(self, *a):
        pass


def expired_self_signed(workdir: Path, name: str = "portal.campus.test") -> tuple[Path, Path]:
    """A self-signed RSA certificate that expired a year ago (cert.pem, key.pem)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=730))
            .not_valid_after(now - dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    c, k = workdir / "cert.pem", workdir / "key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


class _TLSServer(_Server):
    """HTTPS that accepts TLS 1.0 (OpenSSL security level 0), serving PlainHTTP."""

    def __init__(self, addr, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():  # TLS 1.0 is deprecated: that is the point of this server
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1
        self.ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        self.ctx.load_cert_chain(cert, key)
        super().__init__(addr, PlainHTTP)

    def finish_request(self, request, client_address):  # in the request's own thread
        request.settimeout(5)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address):
        pass


WEAK_SSHD = """Port 22
ListenAddress {addr}
HostKey {dir}/ssh_host_rsa_key
PidFile {dir}/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
KexAlgorithms curve25519-sha256,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1
Ciphers aes128-ctr,aes128-cbc,3des-cbc
MACs hmac-sha2-256,hmac-md5
"""


def port_in_use(addr: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((addr, port)) == 0


class Listeners:
    """Every planted service on one loopback address; ``ports`` says which run."""

    def __init__(self, addr: str, workdir: Path | None = None):
        self.addr = addr
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="ca-net-"))
        self.servers: list[socketserver.BaseServer] = []
        self.sshd: subprocess.Popen | None = None

    def _serve(self, server):
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def start(self, ssh: bool = True) -> "Listeners":
        cert, key = expired_self_signed(self.workdir)
        self._serve(_Server((self.addr, 23), TelnetLike))
        self._serve(_Server((self.addr, 6379), RedisLike))
        self._serve(_Server((self.addr, 80), PlainHTTP))
        self._serve(_Server((self.addr, 21), AnonymousFTP))
        self._serve(_Server((self.addr, 11211), MemcachedLike))
        self._serve(_Server((self.addr, 9200), ElasticLike))
        self._serve(_TLSServer((self.addr, 443), cert, key))
        if ssh:
            self._start_sshd()
        return self

    def _start_sshd(self):
        d = self.workdir
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(d / "ssh_host_rsa_key")],
                       check=True)
        conf = d / "sshd_config"
        conf.write_text(WEAK_SSHD.format(addr=self.addr, dir=d))
        os.makedirs("/run/sshd", exist_ok=True)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.sshd = subprocess.Popen([sshd, "-D", "-e", "-f", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(d / "sshd.log", "wb"))
        for _ in range(50):
            if port_in_use(self.addr, 22):
                return
            time.sleep(0.1)
        raise RuntimeError(f"sshd did not start: {(d / 'sshd.log').read_text()[-500:]}")

    def stop(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()
        if self.sshd:
            self.sshd.terminate()
            self.sshd.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)
