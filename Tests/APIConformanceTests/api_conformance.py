#!/usr/bin/env python3
"""The API against its own document: schemathesis (Tests/requirements.txt) generates requests from
/openapi.json, valid and invalid, signed in as an admin, and checks every answer against what the
document says (status, content type, schema, headers, authentication, refusal of invalid input,
405 for other methods, no 5xx). Bounded: a fixed number of cases per operation and a fixed seed,
so a run is repeatable; schemathesis.toml says where acceptance depends on more than the schema.

Usage: api_conformance.py [--database URL] (SQLite in a temporary folder by default)."""

import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CMC = os.environ.get("CMC_BINARY", os.path.join(ROOT, ".build", "debug", "cmc"))
MQTT_URL = os.environ.get("CMC_TEST_MQTT_URL", "mqtt://cmc:cmc-test@127.0.0.1:18830")
ADMIN = ("admin@conformance.test", "conformance test password")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10) as answer:
        return json.load(answer)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--examples", type=int, default=25, help="test cases per operation and phase")
    parser.add_argument("--schemathesis", default=shutil.which("schemathesis") or "schemathesis")
    arguments = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="cmc-conformance-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CMC_DATABASE_URL=arguments.database or f"sqlite:{directory}/cmc.sqlite", CMC_PORT=str(port),
               CMC_COAP_PORT="off", CMC_MQTT_URL=MQTT_URL, CMC_MQTT_CLIENT_ID=f"cmc-conformance-{port}", CMC_CONNECTORS_DIR="off",
               CMC_PORTAL_DIR=os.path.join(ROOT, "portal"), CMC_MIGRATIONS_DIR=os.path.join(ROOT, "migrations"),
               CMC_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png", CMC_ADMIN_EMAIL=ADMIN[0], CMC_ADMIN_PASSWORD=ADMIN[1],
               CMC_BCRYPT_COST="4", CMC_PASSWORD_CHECKS_PER_MINUTE="1000000", CMC_LOG_LEVEL="warning")
    log = open(os.path.join(directory, "platform.log"), "w")
    server = subprocess.Popen([CMC, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=directory)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if request("GET", f"{base}/health")["status"] == "ok":
                    break
            except Exception:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"the platform did not start; see {log.name}")
                time.sleep(0.2)
        token = request("POST", f"{base}/users/signin", {"email": ADMIN[0], "password": ADMIN[1]})["token"]
        report = os.path.join(directory, "report")
        tool = os.path.abspath(arguments.schemathesis) if os.sep in arguments.schemathesis else arguments.schemathesis
        command = [tool, "--config-file", os.path.join(HERE, "schemathesis.toml"), "run", f"{base}/openapi.json",
                   "--url", base, "--header", f"Authorization: Bearer {token}", "--checks", "all",
                   "--max-examples", str(arguments.examples), "--seed", os.environ.get("CMC_CONFORMANCE_SEED", "20261202"), "--workers", "2", "--request-timeout", "20",
                   "--no-color", "--report", "junit", "--report-dir", report]
        print("$", " ".join(command).replace(token, "[admin token]"), flush=True)
        # In the temporary folder: schemathesis keeps a cache of what it found where it runs.
        outcome = subprocess.run(command, cwd=directory)
        if server.poll() is not None:
            raise SystemExit(f"the platform stopped during the run; see {log.name}")
        if outcome.returncode != 0:
            raise SystemExit(f"schemathesis found failures (platform log: {log.name})")
        print("API conformance: no failures")
        shutil.rmtree(directory, ignore_errors=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
