"""Refuse parameters no BBB call can carry, before anything reads or forwards them.

* NUL and the other characters XML 1.0 cannot hold (BBB strips control characters; we refuse
  them, because the checksum covers them and PostgreSQL cannot store a NUL).
* ``meta_<name>`` whose name is not an XML element name: BBB writes metadata as
  ``<name>value</name>`` in getMeetingInfo, getMeetings and getRecordings, so ``meta_a%`` would
  make every later getMeetings of the tenant malformed XML.
"""

from __future__ import annotations

import re

from b3scale.bbb.responses import BBBError
from b3scale.bbb.text import is_clean
from b3scale.cluster.chain import Context, Handler, Reply

#: Calls whose ``meta_`` parameters become XML elements on the node.
METADATA_CALLS = frozenset({"create", "updateRecordings"})
#: The ASCII subset of XML names that every XML parser (and BBB's templates) handles.
METADATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


def check_request(ctx: Context) -> None:
    request = ctx.request
    # One search over all names and values (a newline is allowed in XML, so joining them
    # cannot make a clean request look unclean); the one at fault is looked for only then.
    everything_clean = is_clean("\n".join(f"{p.key}\n{p.value}" for p in request.params))
    for key, value in request.items():
        if not everything_clean and (not is_clean(key) or not is_clean(value)):
            raise BBBError(
                "validationError",
                f"The parameter {key[:64] if is_clean(key) else '(name)'} holds characters "
                "that are not allowed (NUL or control characters).",
            )
        if (
            request.call in METADATA_CALLS
            and key.startswith("meta_")
            and not METADATA_NAME.fullmatch(key[5:])
        ):
            raise BBBError(
                "validationError",
                f"The metadata parameter {key[:64]} is not allowed: after meta_ a name starts with "
                "a letter or _ and holds only letters, digits, _, . and - (at most 128).",
            )


def refuse_malformed_params(next_handler: Handler) -> Handler:
    async def handler(ctx: Context) -> Reply:
        check_request(ctx)
        return await next_handler(ctx)

    return handler
