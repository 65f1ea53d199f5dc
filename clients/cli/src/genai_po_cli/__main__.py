"""`python -m genai_po_cli …`: the same as the `genai-po` command."""

import sys

from genai_po_cli import main

sys.exit(main())
