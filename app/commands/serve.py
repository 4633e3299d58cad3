"""``stylescope app``: serve the Gradio app on one data directory.

Binds to 127.0.0.1 unless ``--host`` names another interface; then a username and
password are required (``STYLESCOPE_APP_USER`` / ``STYLESCOPE_APP_PASSWORD``, or
``--auth-file`` with ``user:password`` lines) and the app refuses to start without them.
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
from pathlib import Path

from app.commands import ENCODER_HELP, add_common, open_data_dir
from core.errors import BadInputError

logger = logging.getLogger(__name__)

USER_ENV, PASSWORD_ENV = "STYLESCOPE_APP_USER", "STYLESCOPE_APP_PASSWORD"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "app",
        help="serve the Gradio app (search, upload, trends, creators, model)",
        description="Serve the app on http://127.0.0.1:7860 by default. Serving on another "
        f"interface (--host 0.0.0.0) needs authentication: {USER_ENV} and {PASSWORD_ENV}, "
        "or --auth-file FILE holding user:password lines.",
    )
    add_serve_options(parser)
    add_common(parser, as_json=False)
    parser.set_defaults(func=run)


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """--host, --port, --auth-file and --encoder (shared with ``stylescope demo``)."""
    parser.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 7860)")
    parser.add_argument("--auth-file", default=None, help="file with user:password lines (required off loopback "
                        f"unless {USER_ENV}/{PASSWORD_ENV} are set)")
    parser.add_argument("--encoder", default=None, help=ENCODER_HELP)
    parser.add_argument("--shards", default=None, help="search the sharded index in this folder "
                        "(`stylescope index build --backend ray --out`) instead of the live index")


def read_auth(auth_file: str | Path | None, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Credentials from ``auth_file`` (``user:password`` per line) or the environment.

    Raises:
        BadInputError: unreadable or malformed file, or only one of the two variables set.
    """
    environ = dict(os.environ) if environ is None else environ
    if auth_file:
        return _auth_from_file(Path(auth_file).expanduser())
    user, password = environ.get(USER_ENV, ""), environ.get(PASSWORD_ENV, "")
    if bool(user) != bool(password):
        raise BadInputError(f"set both {USER_ENV} and {PASSWORD_ENV}, or neither")
    return [(user, password)] if user else []


def _auth_from_file(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read the auth file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("auth file %s is readable by other users; chmod 600 it", path)
    credentials = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, password = line.strip().partition(":")
        if not sep or not user or not password:
            raise BadInputError(f"auth file {path} line {number}: expected user:password")
        credentials.append((user, password))
    if not credentials:
        raise BadInputError(f"auth file {path} holds no user:password line")
    return credentials


def check_binding(host: str, auth: list[tuple[str, str]]) -> None:
    """Refuse to serve beyond this machine without authentication."""
    if host not in LOOPBACK and not auth:
        raise BadInputError(
            f"refusing to serve on {host} without authentication: set {USER_ENV} and "
            f"{PASSWORD_ENV}, or pass --auth-file FILE (lines user:password)"
        )


def serve(args: argparse.Namespace, block: bool = True) -> str:
    """Open the data directory, build the app and serve it; returns the URL."""
    from app.services import AppConfig, Services

    config = AppConfig.load(args.config)
    host = args.host or config.host
    auth = read_auth(args.auth_file)
    check_binding(host, auth)
    if config.group_readable:
        from core.storage import share_files_with_group

        share_files_with_group()
    data_dir = open_data_dir(args.data_dir)
    try:
        from app.ui import build_app, launch
    except ModuleNotFoundError as exc:
        if exc.name not in ("gradio", "gradio_client"):
            raise
        raise BadInputError(f"the app needs {exc.name}, which comes with the app extra: "
                            "pip install 'stylescope[app]'") from None
    services = Services.open(data_dir, args.encoder, config, args.config, args.shards)
    warming = services.warm_up()  # the encoder loads beside the page's build, not on the first query
    blocks = build_app(services)
    warming.join(timeout=config.warm_up_wait_s)  # searches are answered at once when the page is up
    if warming.is_alive():
        logger.warning("the encoder is still loading after %.0f s; the first searches wait for it",
                       config.warm_up_wait_s)
    print(f"stylescope app: serving {services.data_dir} on http://{host}:{args.port or config.port}"
          + (" (login required)" if auth else ""), flush=True)
    return launch(blocks, services, host, args.port or config.port, auth, block=block)


def run(args: argparse.Namespace) -> int:
    serve(args)
    return 0
