"""Ray's token authentication, seen from a client: turn it on, find or make a token, send it.

Everything here drives Ray's own token machinery (ray/_private/authentication).
"""

from __future__ import annotations

import os
from pathlib import Path

# Ray's own token variables: mode, token value, token file.
AUTH_MODE_ENV, AUTH_TOKEN_ENV, AUTH_TOKEN_PATH_ENV = (
    "RAY_AUTH_MODE",
    "RAY_AUTH_TOKEN",
    "RAY_AUTH_TOKEN_PATH",
)


def enable_token_auth() -> bool:
    """Turn on Ray's token auth for this process when a token is at hand (unless set off).

    Ray 2.60 sends the token only when RAY_AUTH_MODE=token, and sets that itself only for a
    local cluster found automatically; a client given an explicit address must opt in.
    """
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available,
    )

    return maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def ensure_token() -> str | None:
    """Where the cluster's token comes from, creating one if there is none; None if auth is off.

    Ray's own order: $RAY_AUTH_TOKEN, the file $RAY_AUTH_TOKEN_PATH, then ~/.ray/auth_token.
    """
    if os.environ.get(AUTH_MODE_ENV, "token").lower() == "disabled":
        return None
    from ray._private.authentication.authentication_token_generator import (
        generate_new_authentication_token,
    )
    from ray._private.authentication.authentication_token_setup import (
        _get_default_token_path,
        generate_and_save_token,
    )
    from ray._raylet import AuthenticationTokenLoader

    if os.environ.get(AUTH_TOKEN_ENV):
        return f"${AUTH_TOKEN_ENV}"
    loader = AuthenticationTokenLoader.instance()
    custom = os.environ.get(AUTH_TOKEN_PATH_ENV)
    if custom:
        path = Path(custom).expanduser()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(generate_new_authentication_token())
            loader.reset_cache()
        return str(path)
    if not loader.has_token(ignore_auth_mode=True):
        generate_and_save_token()
        loader.reset_cache()
    return str(_get_default_token_path())


def auth_headers() -> dict[str, str]:
    """`Authorization: Bearer <token>` for our own HTTP calls to the dashboard, if auth is on."""
    from ray._private.authentication.http_token_authentication import (
        get_auth_headers_if_auth_enabled,
    )

    enable_token_auth()
    return dict(get_auth_headers_if_auth_enabled({}))
