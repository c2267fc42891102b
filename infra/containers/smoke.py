"""`make images-smoke`: the split the cloud runs, in containers on this machine.

The service container on DynamoDB (a moto server on the host) with its token
secret, admin and captcha key in Secrets Manager (the same moto); the gateway
container in front of it (`ASTRO_SERVICE_URL`), spending captcha solutions in
the same table. Then, from the host: sign in, submit through the form
endpoint with a solved proof of work, list the column over REST and over
gRPC-web, one native gRPC call with grpcurl. Then the service container is
killed: the gateway must answer 503 problems quickly (not hang), and recover
once the service is back.

Both containers use the host's network (`--network host`) on free loopback
ports, read-only root file systems and their images' own health checks.
Run by `make images-smoke` with the test tools' Python (boto3 comes with moto).
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = os.environ.get("IMAGE_TAG", "latest")
TOOLS = os.path.join(ROOT, ".tools")
GRPCURL = os.path.join(TOOLS, "bin", "grpcurl")
BUF = os.path.join(ROOT, "proto", "node_modules", ".bin", "buf")
ADMIN = {"email": "admin@example.com", "password": "smoke-test-password-1"}
STARTED = time.monotonic()


def step(message):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, check=True, timeout=60):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, head, raw = e.code, e.headers, e.read()
    text = raw.decode()
    try:
        return status, head, json.loads(text)
    except ValueError:
        return status, head, text


def until(what, check, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {what}")
        time.sleep(0.3)


def healthy(container):
    return run("podman", "healthcheck", "run", container, check=False).returncode == 0


def solve(challenge):
    """An ALTCHA proof of work, as the web app's worker solves it."""
    number = next(
        n
        for n in range(int(challenge["maxnumber"]) + 1)
        if hashlib.sha256((challenge["salt"] + str(n)).encode()).hexdigest() == challenge["challenge"]
    )
    payload = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = number
    return base64.b64encode(json.dumps(payload).encode()).decode()


def main():
    moto_port, service_port, gateway_port = free_port(), free_port(), free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    service, gateway = "astro-smoke-service", "astro-smoke-gateway"
    moto = subprocess.Popen(
        [os.path.join(TOOLS, "venv", "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until("moto", lambda: http("GET", f"{moto_url}/moto-api/")[0] == 200)
        aws = {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "smoke",
            "AWS_SECRET_ACCESS_KEY": "smoke",
        }
        secrets = boto3.client(
            "secretsmanager",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="smoke",
            aws_secret_access_key="smoke",
        )
        names = {
            "ASTRO_JWT_SECRET_ID": ("astro-qualif/jwt-secret-smoke", uuid.uuid4().hex + uuid.uuid4().hex),
            "ASTRO_ADMIN_SECRET_ID": ("astro-qualif/admin-credentials-smoke", json.dumps(ADMIN)),
            "ASTRO_CAPTCHA_SECRET_ID": ("astro-qualif/recaptcha-secret-smoke", uuid.uuid4().hex),
            # As the stack does: on a read-only root the service cannot
            # make one in /data.
            "ASTRO_TWO_FACTOR_KEY_SECRET_ID": ("astro-qualif/two-factor-key-smoke", uuid.uuid4().hex + uuid.uuid4().hex),
        }
        for name, value in names.values():
            secrets.create_secret(Name=name, SecretString=value)
        env = dict(aws)
        env.update({var: name for var, (name, _) in names.items()})
        env.update(
            {
                "ASTRO_STORE": "dynamodb",
                "ASTRO_DYNAMODB_TABLE": "astro-qualif-smoke",
                "ASTRO_BCRYPT_COST": "10",
                "ASTRO_POW_MAX_NUMBER": "20000",
                "ASTRO_GRPC_ADDR": f"127.0.0.1:{service_port}",
                "ASTRO_HTTP_ADDR": f"127.0.0.1:{gateway_port}",
            }
        )
        flags = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        common = ["--network", "host", "--read-only", *flags]
        step(f"moto at {moto_url}: secrets created")

        run("podman", "run", "--rm", *common, f"localhost/astro-service:{TAG}", "table", "create")
        step("the table, created by the service image's own `table create`")

        run("podman", "rm", "-f", service, gateway, check=False)
        run("podman", "run", "-d", "--name", service, *common, f"localhost/astro-service:{TAG}")
        until("the service container's health check", lambda: healthy(service))
        step(f"service container healthy (native gRPC at 127.0.0.1:{service_port})")
        run(
            "podman", "run", "-d", "--name", gateway, *common,
            "-e", f"ASTRO_SERVICE_URL=http://127.0.0.1:{service_port}",
            f"localhost/astro-gateway:{TAG}",
        )
        until("the gateway container's health check", lambda: healthy(gateway))
        edge = f"http://127.0.0.1:{gateway_port}"
        step(f"gateway container healthy (REST and gRPC-web at {edge})")

        status, _, body = http("POST", f"{edge}/auth/login", ADMIN)
        assert status == 200, (status, body)
        token = body["token"]
        bearer = {"authorization": f"Bearer {token}"}
        step("signed in over REST as the admin from Secrets Manager")

        status, _, challenge = http("GET", f"{edge}/captcha/challenge")
        assert status == 200, (status, challenge)
        solution = solve(challenge)
        submission = {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "company": "Analytical Engines",
            "budget": "5k_to_20k",
            "timeline": "within_3_months",
            "message": "From the container smoke test",
            "consent": True,
            "captchaToken": solution,
        }
        status, _, receipt = http("POST", f"{edge}/prospects", submission, {"idempotency-key": str(uuid.uuid4())})
        assert status == 201, (status, receipt)
        card = receipt["id"]
        step(f"form submitted with a solved proof of work: {card}")
        status, _, replay = http("POST", f"{edge}/prospects", dict(submission, email="bot@example.com"))
        assert status == 400 and "captchaToken" in json.dumps(replay), (status, replay)
        step("the same solution again: refused (spent in the table)")

        status, _, page = http("GET", f"{edge}/prospects?status=new&pageSize=50", headers=bearer)
        assert status == 200 and any(p["id"] == card for p in page["prospects"]), (status, page)
        step("the New column over REST holds the card")

        listing = json.dumps({"status": "PROSPECT_STATUS_NEW"})
        web = run(
            BUF, "curl", "--protocol", "grpcweb", "--schema", os.path.join(ROOT, "proto"),
            "-H", f"authorization: Bearer {token}", "-d", listing,
            f"{edge}/astro.v1.ProspectService/ListProspects",
        )
        assert card in web.stdout, web.stdout
        step("the New column over gRPC-web (buf curl) holds the card")

        native = run(
            GRPCURL, "-plaintext", "-H", f"authorization: Bearer {token}", "-d", listing,
            f"127.0.0.1:{service_port}", "astro.v1.ProspectService/ListProspects",
        )
        assert card in native.stdout, native.stdout
        step("native gRPC from the host (grpcurl) holds the card")

        run("podman", "kill", service)
        step("service container killed")
        began = time.monotonic()
        status, head, problem = http("GET", f"{edge}/prospects?status=new", headers=bearer, timeout=15)
        waited = time.monotonic() - began
        assert status == 503, (status, problem)
        assert head.get("content-type", "").startswith("application/problem+json"), head
        assert waited < 10, f"the gateway took {waited:.1f} s to answer"
        status, _, health = http("GET", f"{edge}/healthz")
        assert status == 503, (status, health)
        web = run(
            BUF, "curl", "--protocol", "grpcweb", "--schema", os.path.join(ROOT, "proto"),
            "-H", f"authorization: Bearer {token}", "-d", listing,
            f"{edge}/astro.v1.ProspectService/ListProspects", check=False, timeout=20,
        )
        assert web.returncode != 0 and "unavailable" in (web.stdout + web.stderr).lower(), (web.stdout, web.stderr)
        assert healthy(gateway), "the gateway itself stays alive"
        step(f"with the service down: REST 503 problem in {waited * 1000:.0f} ms, /healthz 503, gRPC-web UNAVAILABLE")

        run("podman", "start", service)
        until("the service back", lambda: healthy(service))

        def listed_again():
            status, _, page = http("GET", f"{edge}/prospects?status=new", headers=bearer)
            return status == 200 and any(p["id"] == card for p in page["prospects"])

        until("the gateway recovering", listed_again)
        step("service restarted: the gateway answers again, the card still there")
        secret_values = [value for _, value in names.values()] + [ADMIN["password"], token, solution]
        for name in (service, gateway):
            logs = run("podman", "logs", name)
            lines = (logs.stdout + logs.stderr).splitlines()
            assert lines and all(json.loads(line) for line in lines), f"{name}: JSON log lines expected"
            leaked = [v for v in secret_values if any(v in line for line in lines)]
            assert not leaked, f"{name} logged a secret"
        step("both containers' logs: JSON lines, no secret, password, token or captcha solution")
        step(f"smoke test passed in {time.monotonic() - STARTED:.0f} s")
    except BaseException:
        for name in (service, gateway):
            logs = run("podman", "logs", "--tail", "20", name, check=False)
            print(f"--- last logs of {name}:\n{logs.stdout}{logs.stderr}", file=sys.stderr)
        raise
    finally:
        run("podman", "rm", "-f", service, gateway, check=False)
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
