"""``b3scale ctl auth ...``: access tokens signed with the server's B3SCALE_API_JWT_SECRET.

Made locally (nothing is sent): whoever holds the secret can sign tokens, so these commands
run where the secret is, and print a token to hand to a node or a script.
"""

from __future__ import annotations

import secrets

import click

from b3scale.cli.ctl import AliasedGroup, ctl, errors_as_one_line
from b3scale.cli.ctl.client import CtlError
from b3scale.config import load_config
from b3scale.web.api.auth import SCOPE_ADMIN, SCOPE_NODE, SCOPE_USER, sign_token

#: Words for agent references that are easy to read out and compare: "amber-falcon-river".
_WORDS = [
    "amber",
    "azure",
    "bold",
    "brave",
    "bright",
    "calm",
    "cedar",
    "clear",
    "coral",
    "crisp",
    "dawn",
    "deep",
    "eager",
    "early",
    "fair",
    "fast",
    "fern",
    "fine",
    "firm",
    "frost",
    "gentle",
    "glad",
    "golden",
    "grand",
    "green",
    "happy",
    "keen",
    "kind",
    "lake",
    "light",
    "lively",
    "lucky",
    "maple",
    "mild",
    "misty",
    "noble",
    "oak",
    "ocean",
    "olive",
    "pine",
    "plain",
    "prime",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "red",
    "river",
    "rose",
    "royal",
    "ruby",
    "sage",
    "sharp",
    "silver",
    "sky",
    "smart",
    "snow",
    "solid",
    "spring",
    "steady",
    "stone",
    "storm",
    "sunny",
    "swift",
    "tidy",
    "true",
    "violet",
    "warm",
    "wise",
]
_ANIMALS = [
    "badger",
    "bear",
    "beaver",
    "bison",
    "crane",
    "crow",
    "deer",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "finch",
    "fox",
    "gecko",
    "hare",
    "hawk",
    "heron",
    "ibis",
    "jay",
    "koala",
    "lark",
    "lemur",
    "lion",
    "lynx",
    "marten",
    "mole",
    "moose",
    "newt",
    "otter",
    "owl",
    "panda",
    "parrot",
    "pelican",
    "pike",
    "puffin",
    "quail",
    "rabbit",
    "raven",
    "robin",
    "salmon",
    "seal",
    "shark",
    "sparrow",
    "stork",
    "swan",
    "tapir",
    "tiger",
    "toad",
    "trout",
    "turtle",
    "viper",
    "walrus",
    "whale",
    "wolf",
    "wren",
    "yak",
    "zebra",
]
KNOWN_SCOPES = (SCOPE_USER, SCOPE_ADMIN, SCOPE_NODE)


def random_ref() -> str:
    choice = secrets.choice
    return f"{choice(_WORDS)}-{choice(_ANIMALS)}-{choice(_WORDS)}"


def _secret(given: str | None) -> str:
    secret = given or load_config().api_jwt_secret
    if not secret:
        raise CtlError(
            "signing a token needs the server's secret: set B3SCALE_API_JWT_SECRET or give --secret"
        )
    return secret


def _lifetime(days: float | None) -> float | None:
    if days is not None and days <= 0:
        raise CtlError("--days must be more than 0")
    return days * 86400 if days is not None else None


SECRET_OPTION = click.option(
    "--secret",
    default=None,
    metavar="SECRET",
    help="The server's B3SCALE_API_JWT_SECRET (default: from the environment).",
)
DAYS_OPTION = click.option(
    "--days", type=float, default=None, help="Valid this many days (default: no expiry)."
)


@ctl.group("auth", cls=AliasedGroup)
def auth() -> None:
    """Make access tokens for node agents and scripts (signed locally)."""


@auth.command(
    "authorize_node_agent",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--ref", default=None, help="The agent's reference (default: three random words).")
@SECRET_OPTION
@DAYS_OPTION
@errors_as_one_line
def authorize_node_agent(ref: str | None, secret: str | None, days: float | None) -> None:
    """A token for one node's agent (scope b3scale:node, sub = REF): it reaches only that
    node's own backend. The reference is printed to stderr, the token to stdout."""
    ref = ref or random_ref()
    token = sign_token(_secret(secret), ref, SCOPE_NODE, _lifetime(days))
    click.echo(f"node agent reference: {ref}", err=True)
    click.echo(token)


@auth.command("create_access_token")
@click.option("--sub", required=True, help="The token's subject (account reference).")
@click.option(
    "--scopes",
    required=True,
    help="Comma-separated: b3scale (a tenant), b3scale:admin, b3scale:node.",
)
@SECRET_OPTION
@DAYS_OPTION
@errors_as_one_line
def create_access_token(sub: str, scopes: str, secret: str | None, days: float | None) -> None:
    """A token with any subject and scopes."""
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in KNOWN_SCOPES]
    if not wanted or unknown:
        raise CtlError(
            f"unknown scope {', '.join(unknown) or '(none)'}; use {', '.join(KNOWN_SCOPES)}"
        )
    if not sub.strip():
        raise CtlError("--sub must not be empty")
    click.echo(sign_token(_secret(secret), sub, " ".join(wanted), _lifetime(days)))


# b3scale's spelling above; dashed aliases for the shell.
auth.add_command(authorize_node_agent, "authorize-node-agent")
auth.add_command(create_access_token, "create-access-token")
