"""A reference agent, not a model: a small OpenAI-compatible Acme Support agent served on
127.0.0.1 for the demo, the tests and the benchmarks. Standard library only.

    python -m evals.reference_agent --port 8100 --latency-ms 100
    server, url = start_in_thread(latency_ms=100); ...; server.stop()
"""

from evals.reference_agent.server import (
    FINGERPRINT,
    MODEL_ID,
    AgentOptions,
    ReferenceAgentServer,
    start_in_thread,
)

__all__ = ["FINGERPRINT", "MODEL_ID", "AgentOptions", "ReferenceAgentServer", "start_in_thread"]
