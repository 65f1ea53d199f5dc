"""`python manage.py serve_mcp [--port 8001]`: the knowledge MCP server (streamable HTTP at
/mcp) under uvicorn. 127.0.0.1 unless told otherwise (the full stack binds 0.0.0.0 inside
its container)."""

import os

import uvicorn
from django.core.management.base import BaseCommand

from context.mcp_server import asgi_app


class Command(BaseCommand):
    help = "Serve published knowledge as the MCP tool search_knowledge (streamable HTTP, /mcp)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("GENAI_PO_MCP_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int,
                            default=int(os.environ.get("GENAI_PO_MCP_PORT", "8001")))  # fmt: skip
        parser.add_argument("--public-url", default=os.environ.get("GENAI_PO_MCP_URL", ""),
                            help="where clients reach it (default http://HOST:PORT)")  # fmt: skip

    def handle(self, *args, host, port, public_url, **options):
        public_url = (public_url or f"http://{host}:{port}").rstrip("/")
        self.stdout.write(f"MCP server (tool search_knowledge) on {public_url}/mcp")
        uvicorn.run(asgi_app(public_url), host=host, port=port, log_level="warning",
                    access_log=False)  # fmt: skip
