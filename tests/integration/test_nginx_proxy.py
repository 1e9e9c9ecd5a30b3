"""The documented production set-up: nginx (docs/deploy/nginx-lsqa.conf) in front of `lsqa serve`.

Runs nginx with that very file (only its ports and temporary paths rewritten). nginx is installed with
apt-get when the run is root; otherwise the test is skipped with what to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from aptinstall import apt_install, can_install
from eventfactory import annotation_event
from servicefixtures import ROOT, SECRET, ServiceProcess, free_port
from sqlalchemy import func, select

from plugin.store import Store
from plugin.store.schema import inbox

SITE = ROOT / "docs" / "deploy" / "nginx-lsqa.conf"
NGINX = "/usr/sbin/nginx"


def nginx_binary() -> str:
    if not shutil.which(NGINX) and can_install():
        run = apt_install(("nginx",))
        assert shutil.which(NGINX), f"apt-get install nginx failed:\n{run.stderr[-2000:]}"
    if not shutil.which(NGINX):
        pytest.skip("needs nginx for the reverse-proxy test: apt-get install -y nginx")
    return NGINX


def site_config(lsqa_port: int, nginx_port: int) -> str:
    """The documented file, pointed at this test's ports."""
    text = SITE.read_text()
    replaced = text.replace("server 127.0.0.1:8787;", f"server 127.0.0.1:{lsqa_port};").replace(
        "listen 80;", f"listen 127.0.0.1:{nginx_port};"
    )
    assert replaced.count(str(lsqa_port)) == 1 and replaced.count(str(nginx_port)) == 1, "doc changed"
    return replaced


def main_config(workdir: Path, site: Path) -> str:
    """The smallest nginx.conf around the site file, with every path in the test's directory."""
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    return (
        f"daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n  access_log {workdir / 'access.log'};\n"
        f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
        f"  scgi_temp_path {temp['scgi']};\n  include {site};\n}}\n"
    )


@pytest.fixture
def nginx_in_front(tmp_path, sqlite_url):
    binary = nginx_binary()
    service = ServiceProcess(tmp_path, sqlite_url, extra="worker:\n  enabled: false\n")
    config = service.config.read_text()  # the set-up the file documents: one trusted proxy
    service.config.write_text(config.replace("server:\n", "server:\n  trusted_proxies: 1\n", 1))
    try:
        service.start()
    except RuntimeError:
        service.kill()
        raise
    nginx_port = free_port()
    site = tmp_path / "lsqa-site.conf"
    site.write_text(site_config(service.port, nginx_port))
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_config(tmp_path, site))
    check = subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{nginx_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
            time.sleep(0.1)
        yield base, sqlite_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        service.stop()


def test_an_event_passes_through_nginx_with_its_secret_header(nginx_in_front):
    base, database_url = nginx_in_front
    body = json.dumps(annotation_event(71, 7_001, 2)).encode()
    headers = {"Content-Type": "application/json"}
    refused = requests.post(f"{base}/webhooks/label-studio", data=body, headers=headers, timeout=5)
    assert refused.status_code == 401
    headers["X-LSQA-Secret"] = SECRET
    accepted = requests.post(f"{base}/webhooks/label-studio", data=body, headers=headers, timeout=5)
    assert accepted.status_code == 200 and accepted.json() == {"status": "accepted"}
    store = Store(database_url)
    with store.inbox_read() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 1
    store.dispose()
    too_big = requests.post(f"{base}/dashboard/login", data=b"x" * 100_000, timeout=5)
    assert too_big.status_code == 413  # refused by nginx's body limit for everything but the webhook
