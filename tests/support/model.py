"""Where the tests find the trained model (`make train` writes it)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "postdesk.tar.gz"
