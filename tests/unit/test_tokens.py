"""Bearer tokens: random, distinct, and usable as a command-line argument (``--token T``)."""

from __future__ import annotations

from accord.api.app import TOKEN_PREFIX, new_token
from accord.cli import build_parser


def test_tokens_are_distinct_and_never_look_like_an_option() -> None:
    # a bare token_urlsafe starts with "-" about once in 64: argparse then took it for an option
    tokens = [new_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    parser = build_parser()
    for token in tokens:
        assert token.startswith(TOKEN_PREFIX) and len(token) >= len(TOKEN_PREFIX) + 43
        args = parser.parse_args(["timeline", "--server", "http://127.0.0.1:1", "--token", token])
        assert args.token == token
