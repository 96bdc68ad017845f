#!/usr/bin/env python3
"""Deployment figures (docs/benchmarks.md, "Deployment"): the idle resident memory of each
service in a process of its own, and the time from a job's submission to its analyzer's start
(its first report) with the process and the Docker launchers.

    tools/dev-postgres.sh && tools/dev-s3.sh
    tools/measure-deploy.py --binary target/release/sextant --image sextant:0.1.0 [--jobs 10]

Needs the PostgreSQL and S3 servers of tools/dev-postgres.sh and tools/dev-s3.sh, and for the
Docker launcher the image (`make image`). Standard library only.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = os.environ.get("SEXTANT_TEST_POSTGRES", "postgres://sextant@127.0.0.1:55432/postgres")
S3 = os.environ.get("SEXTANT_TEST_S3", "http://127.0.0.1:55433")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read().decode()
        return json.loads(text) if text.startswith(("{", "[")) else text


def fresh_database():
    name = "sextant_measure_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True)
    return PG.rsplit("/", 1)[0] + "/" + name


class Server:
    def __init__(self, binary, env, name):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix=f"sextant-measure-{name}-")
        full = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", **env)
        full.pop("RUST_BACKTRACE", None)
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "server.log"), "w"),
        )
        for _ in range(300):
            try:
                call(self.url + "/readyz")
                return
            except Exception:
                time.sleep(0.1)
        sys.exit(f"{name} did not start; see {self.dir}/server.log")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def sextant(binary, url, *args):
    subprocess.run([binary, *args, "--server", url], check=True, stdout=subprocess.DEVNULL)


def demo(binary, url):
    demo = os.path.join(ROOT, "demo")
    sextant(
        binary,
        url,
        "project",
        "create",
        "credit",
        "--task",
        "binary",
        "--label",
        "defaulted",
        "--id",
        "applicant_id",
        "--from-data",
        f"{demo}/applicants.csv",
    )
    sextant(binary, url, "model", "add", "credit", f"{demo}/credit_model.json", "--name", "xgb")
    sextant(
        binary,
        url,
        "data",
        "add",
        "credit",
        f"{demo}/applicants.csv",
        "--name",
        "applicants",
        "--role",
        "test",
        "--label",
        "defaulted",
    )


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def start_times(binary, url, jobs):
    """Seconds from submission to the analyzer's first report, and to the stored result."""
    started, finished = [], []
    for n in range(jobs):
        # A different row count each time, so no job is answered from the cache.
        job = call(
            url + "/api/v1/projects/credit/jobs",
            "POST",
            {"kind": "influences", "model": "xgb", "dataset": "applicants", "options": {"rows": 900 + n}},
        )
        while job["state"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.05)
            job = call(url + f"/api/v1/jobs/{job['id']}")
        if job["state"] != "succeeded":
            sys.exit(f"job failed: {job}")
        created = when(job["created_at"])
        started.append((when(job["running_at"]) - created).total_seconds())
        finished.append((when(job["finished_at"]) - created).total_seconds())
    return started, finished


def summary(values):
    ms = sorted(v * 1000 for v in values)
    return f"median {statistics.median(ms):.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f}, n={len(ms)})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/sextant"))
    parser.add_argument("--image", help="the image for the Docker launcher (and its size)")
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()

    if args.image:
        size = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", args.image],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"image {args.image}: {int(size) / 1e6:.1f} MB")

    # Each service in its own process, sharing PostgreSQL and S3; RSS once ready and idle.
    common = {
        "SEXTANT_METASTORE_URI": fresh_database(),
        "SEXTANT_ARTIFACTS_URI": f"s3://sextant-test/measure-{uuid.uuid4().hex[:8]}?endpoint={S3}&region=us-east-1&allow_http=true",
    }
    servers = {}
    for service in ["ingest", "intelligence", "scheduler"]:
        servers[service] = Server(args.binary, dict(common, SEXTANT_SERVICES=service), service)
    servers["gateway"] = Server(
        args.binary,
        dict(
            common,
            SEXTANT_SERVICES="gateway",
            SEXTANT_PEER_INGEST=servers["ingest"].url,
            SEXTANT_PEER_INTELLIGENCE=servers["intelligence"].url,
            SEXTANT_PEER_SCHEDULER=servers["scheduler"].url,
        ),
        "gateway",
    )
    time.sleep(2)
    for service, server in servers.items():
        print(f"idle RSS, {service} alone: {server.rss_mib():.1f} MiB")
    # After serving the demo flow through the gateway.
    demo(args.binary, servers["gateway"].url)
    start_times(args.binary, servers["gateway"].url, 2)
    for offset in range(0, 900, 300):
        call(
            servers["gateway"].url
            + f"/api/v1/projects/credit/models/xgb/influences?dataset=applicants&offset={offset}&limit=300"
        )
    call(servers["gateway"].url + "/api/v1/projects/credit/models/xgb/importance?dataset=applicants")
    time.sleep(2)
    for service, server in servers.items():
        print(f"RSS after a demo flow (uploads, two jobs, result pages), {service}: {server.rss_mib():.1f} MiB")
    for server in servers.values():
        server.stop()

    one = Server(args.binary, {}, "all")
    time.sleep(2)
    print(f"idle RSS, all services in one process (SQLite): {one.rss_mib():.1f} MiB")
    demo(args.binary, one.url)
    started, finished = start_times(args.binary, one.url, args.jobs)
    print(f"process launcher: submit → analyzer's first report {summary(started)}; → result {summary(finished)}")
    one.stop()

    if args.image:
        docker = Server(
            args.binary,
            dict(
                common,
                SEXTANT_LAUNCHER="docker",
                SEXTANT_DOCKER_IMAGE=args.image,
                SEXTANT_METASTORE_URI=fresh_database(),
            ),
            "docker",
        )
        demo(args.binary, docker.url)
        started, finished = start_times(args.binary, docker.url, args.jobs)
        print(f"docker launcher: submit → analyzer's first report {summary(started)}; → result {summary(finished)}")
        docker.stop()


main()
