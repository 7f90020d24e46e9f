"""What a demo uses, kept in its data dir: `kassa` commands run beside it find it there.

`kassa demo` writes `demo.json` (readable by its owner only: it names the local Stripe
server's key and any `DATABASE_URL`); every other command run with the same data dir (the
same directory, or the same `KASSA_DATA_DIR`) fills in from it whatever its own
environment leaves unset. The local Stripe server's objects are kept beside it, so a
restarted demo finds them, and its port is asked for again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from kassa.config import Environment, Settings

DEMO_FILE = "demo.json"
LOCAL_STRIPE_STATE = "local_stripe.pickle"


@dataclass(frozen=True, slots=True)
class DemoState:
    kassa_url: str
    database_url: str | None = None
    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_api_base: str | None = None
    stripe_js_url: str | None = None
    local_stripe_port: int | None = None


def write(data_dir: Path, state: DemoState) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = data_dir / (DEMO_FILE + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(state), handle, indent=2)
    partial.replace(data_dir / DEMO_FILE)


def read(data_dir: Path) -> DemoState | None:
    try:
        fields = json.loads((data_dir / DEMO_FILE).read_text())
        return DemoState(**fields)
    except (OSError, ValueError, TypeError):
        return None


def beside_demo(settings: Settings) -> Settings:
    """`settings`, with what the demo in its data dir uses wherever the environment says
    nothing; unchanged when no demo ever ran there."""
    state = read(settings.data_dir)
    if state is None:
        return settings
    given = settings.model_fields_set
    overrides: dict[str, object] = {}
    if "environment" not in given:
        overrides["environment"] = Environment.DEMO
    if "database_url" not in given and state.database_url:
        overrides["database_url"] = state.database_url
    if "stripe_secret_key" not in given and state.stripe_secret_key:
        overrides |= {
            "stripe_secret_key": state.stripe_secret_key,
            "stripe_publishable_key": state.stripe_publishable_key,
            "stripe_api_base": state.stripe_api_base,
        }
        if state.stripe_js_url:
            overrides["stripe_js_url"] = state.stripe_js_url
    return settings.with_overrides(**overrides)
