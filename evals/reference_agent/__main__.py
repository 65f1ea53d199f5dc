"""`python -m evals.reference_agent --port 8100 [--latency-ms N] [--fail-rate R] …`

Prints one line with its URL, serves until SIGTERM or SIGINT, then stops cleanly (exit 0).
"""

import argparse
import signal
import sys
import threading

from evals.reference_agent.server import MODEL_ID, AgentOptions, ReferenceAgentServer


def _rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError("a rate is between 0 and 1")
    return rate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evals.reference_agent",
        description="Acme Support reference agent (not a model): an OpenAI-compatible "
        "chat-completions service on 127.0.0.1 for demos, tests and benchmarks.",
    )
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=int, default=0, help="sleep per chat request")
    parser.add_argument("--fail-rate", type=_rate, default=0.0, help="share answering 500")
    parser.add_argument(
        "--status-429-rate", type=_rate, default=0.0, help="share answering 429 (Retry-After: 1)"
    )
    parser.add_argument(
        "--garbage-rate", type=_rate, default=0.0, help="share answering 200 with non-JSON"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument("--api-key", default=None, help="require Authorization: Bearer KEY")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    parser.add_argument(
        "--knowledge-url", default="",
        help="the knowledge search API to answer from, e.g. "
             "http://127.0.0.1:8000/api/v1/knowledge/search",
    )  # fmt: skip
    parser.add_argument(
        "--knowledge-token-file", default="", help="file holding a knowledge:read token"
    )
    parser.add_argument("--use-case", default="", help="search the knowledge of this use case")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        options = AgentOptions(
            latency_ms=args.latency_ms,
            fail_rate=args.fail_rate,
            status_429_rate=args.status_429_rate,
            garbage_rate=args.garbage_rate,
            seed=args.seed,
            api_key=args.api_key,
            verbose=args.verbose,
            knowledge_url=args.knowledge_url,
            knowledge_token_file=args.knowledge_token_file,
            use_case=args.use_case,
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        server = ReferenceAgentServer(args.port, options)
    except ValueError as error:
        parser.error(str(error))
    except OSError as error:
        sys.stderr.write(f"reference agent: cannot listen on port {args.port}: {error}\n")
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # serve_forever runs in a thread so the main thread can call shutdown() (calling it
    # from the serving thread would deadlock).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    sys.stdout.write(
        f"Reference agent {MODEL_ID} (not a model) listening on {server.url} "
        f"(OpenAI base URL {server.base_url})\n"
    )
    sys.stdout.flush()
    stop.wait()
    server.stop()
    thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
