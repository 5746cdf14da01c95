"""`make run`: the whole platform on one machine, from the same template that deploys it.

Order matters: the AWS endpoint and every setting go into the environment before the app or a
function is imported (modules such as chalicelib.core.db read them at import).
"""
import hashlib
import logging
import os
import secrets
import signal
import sys
import threading
import time

from local import template
from local.api import ApiServer, find_app
from local.control import ControlServer
from local.emulator import HOST, REGION, Emulator, PortInUse, ensure_free
from local.lambda_runtime import Runtime
from local.resources import deploy, verify_email_sender
from local.seed import banner, seed

log = logging.getLogger("local")
# How soon the main thread notices Ctrl-C that the kernel delivered to another thread.
SIGNAL_CHECK_SECONDS = 0.2


def _secret(name: str) -> tuple[str, bool]:
    """The setting's value, or a fresh random one for this run (and whether it was made here)."""
    if os.environ.get(name):
        return os.environ[name], False
    return secrets.token_urlsafe(32), True


def _serve(stopping: threading.Event) -> None:
    api_port = int(os.environ.get("LAUREL_PORT", "8000"))
    control_port = int(os.environ.get("LAUREL_CONTROL_PORT", "8001"))
    retry = os.environ.get("LAUREL_LOCAL_RETRY_SECONDS")
    scale = float(os.environ.get("LAUREL_LOCAL_SCHEDULE_SCALE", "1"))
    ensure_free(api_port, "the API (set LAUREL_PORT)")
    ensure_free(control_port, "the control port (set LAUREL_CONTROL_PORT)")
    root_key, generated_root_key = _secret("LAUREL_ROOT_KEY")
    signing_key, _ = _secret("LAUREL_SIGNING_KEY")

    emulator = Emulator()
    emulator.start()
    started: list = [emulator]
    try:
        # The secrets go in as the template's parameters, as `sam deploy --parameter-overrides` would.
        # The reward provider (LAUREL_PROVIDER_URL, LAUREL_PROVIDER_API_KEY) may be a stand-in on this machine
        # (http://127.0.0.1:...): locally the parameters' AllowedPattern is not enforced, deployed it is (https).
        parameters = {"RootKeyHash": hashlib.sha256(root_key.encode()).hexdigest(), "SigningKey": signing_key,
                      "PublicApiUrl": f"http://{HOST}:{api_port}",
                      "ProviderBaseUrl": os.environ.get("LAUREL_PROVIDER_URL", ""),
                      "ProviderApiKey": os.environ.get("LAUREL_PROVIDER_API_KEY", "")}
        deployment = deploy(template.load(), parameters, REGION)
        os.environ.update(deployment.environment)
        os.environ["LAUREL_ROOT_KEY"] = root_key
        # A receiver on this machine (http://127.0.0.1:...) may get webhooks here, never when deployed.
        os.environ.setdefault("LAUREL_LOCAL_WEBHOOKS", "1")
        if os.environ.get("EMAIL_SENDER"):
            verify_email_sender(REGION, os.environ["EMAIL_SENDER"])
        log.info("created %d function(s), %d queue consumer(s), %d schedule(s) from %s",
                 len(deployment.functions), len(deployment.queue_triggers), len(deployment.schedules),
                 template.TEMPLATE_PATH)

        api_function, app = find_app(deployment)
        api = ApiServer(app, api_function, HOST, api_port)
        runtime = Runtime(deployment, retry_seconds=int(retry) if retry else None, schedule_scale=scale)
        control = ControlServer(runtime, HOST, control_port, REGION if emulator.embedded else None)
        for component in (runtime, control, api):
            component.start()
            started.append(component)
        base_url = f"http://{HOST}:{api_port}"

        demo = None
        if os.environ.get("LAUREL_SEED", "1") != "0" and not stopping.is_set():
            try:
                demo = seed(base_url, root_key)
            except Exception as error:  # noqa: BLE001 - the stack stays useful without demo data
                log.error("demo data could not be made: %s: %s", type(error).__name__, error)
        if demo:
            print(banner(demo, base_url, root_key))
        elif generated_root_key:
            print(f"root key (generated for this run): {root_key}")
        print(f"Control port http://{HOST}:{control_port} (POST /jobs/<FunctionLogicalId>, POST /drain, GET /sent)")
        print(f"Laurel is running on {base_url}", flush=True)
        # Not stopping.wait(): the kernel may deliver Ctrl-C to any of the stack's threads, and a main
        # thread blocked on a lock then never runs Python's handler; a short sleep returns to it.
        while not stopping.is_set():
            time.sleep(SIGNAL_CHECK_SECONDS)
        log.info("stopping")
    finally:
        # Newest first: no new requests, then pollers finish their batch, then the emulator goes.
        for component in reversed(started):
            component.stop()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        _serve(stopping)
    except (PortInUse, template.TemplateError) as error:
        print(f"laurel local: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
