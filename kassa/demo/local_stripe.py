"""Start and stop the local Stripe-compatible server as a child process."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from kassa.services.stripe_gateway import API_VERSION

SECRET_KEY = "sk_test_kassa_local"
PUBLISHABLE_KEY = "pk_test_kassa_local"


@dataclass
class LocalStripe:
    process: subprocess.Popen[str]
    port: int

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        # The trailing slash is part of the route on the local server.
        return f"{self.api_base}/js.stripe.com/v3/"

    @classmethod
    def start(
        cls,
        ttl_seconds: float = 24 * 3600.0,
        *,
        port: int | None = None,
        state_file: Path | None = None,
    ) -> LocalStripe:
        """Start the server: on `port` if it is free, keeping its objects in `state_file`
        (else in memory); its events are written in the API version kassa pins."""
        command = [sys.executable, "-m", "kassa.demo.stripe_server", "--ttl", str(ttl_seconds)]
        command += ["--api-version", API_VERSION, "--port", str(port or 0)]
        if state_file is not None:
            command += ["--state", str(state_file)]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            raise RuntimeError(
                "the local Stripe server did not start; is kassa installed with the demo "
                "extra (pip install 'kassa[demo]')?"
            )
        return cls(process, int(line))

    def register_webhook(self, url: str, secret: str, name: str = "kassa") -> None:
        """Send the server's events to `url`; registering a `name` again replaces its URL."""
        response = httpx.post(
            f"{self.api_base}/_config/webhooks/{name}", data={"url": url, "secret": secret}
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
