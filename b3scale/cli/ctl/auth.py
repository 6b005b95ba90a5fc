"""Where ``b3scale ctl`` gets its token, in this order:

1. B3SCALE_API_ACCESS_TOKEN, sent as it is;
2. B3SCALE_API_JWT_SECRET in the environment: a 5-minute admin token signed on the spot;
3. a token stored earlier under the config dir (one file per API URL, mode 0600);
4. otherwise ctl asks for the secret (like b3scalectl), signs an admin token valid for
   30 days and stores it; the secret itself is never stored.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from b3scale.cli.ctl.client import ApiClient, CtlError
from b3scale.config import Config
from b3scale.web.api.auth import sign_token

EPHEMERAL_LIFETIME = 300
STORED_LIFETIME = 30 * 24 * 3600
SUBJECT = "b3scale-ctl"


def token_file(config: Config, api_url: str) -> Path:
    safe = re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9.]", "_", f"{api_url}.access_token"))
    return config.config_dir.expanduser() / safe


def obtain_token(config: Config, api_url: str) -> str:
    if config.api_access_token:
        return config.api_access_token
    if config.api_jwt_secret:
        return sign_token(config.api_jwt_secret, SUBJECT, "b3scale:admin", EPHEMERAL_LIFETIME)
    stored = token_file(config, api_url)
    if stored.exists():
        return stored.read_text().strip()
    if not sys.stdin.isatty():
        raise CtlError(
            "no credentials: set B3SCALE_API_ACCESS_TOKEN or B3SCALE_API_JWT_SECRET "
            "(or run b3scale ctl in a terminal to log in)"
        )
    click.echo(f"** Authorization required for {api_url} **", err=True)
    secret = click.prompt("B3SCALE_API_JWT_SECRET of the server", hide_input=True, err=True)
    token = sign_token(secret, SUBJECT, "b3scale:admin", STORED_LIFETIME)
    identity = ApiClient(api_url, token).request("GET", "")
    if not isinstance(identity, dict) or not identity.get("is_admin"):
        raise CtlError("authorization failed: the token is not an admin token")
    stored.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    click.echo(f"token stored in {stored}", err=True)
    return token
