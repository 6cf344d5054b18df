"""``python -m bot.bench``: the NLU and turn benchmarks (`bot.bench.turns`)."""
import sys

from bot.bench.turns import main

sys.exit(main())
