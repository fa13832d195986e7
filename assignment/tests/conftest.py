"""Generated from the course's source; do not edit. Makes `rnn_lm` importable and declares one
marker per task (`python -m pytest tests -m task3` runs Task 3's checks)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_configure(config):
    config.addinivalue_line("markers", "task1: Task 1 (VanillaRNNLM)")
    config.addinivalue_line("markers", "task2: Task 2 (LSTMLM)")
    config.addinivalue_line("markers", "task3: Task 3 (lm_loss)")
    config.addinivalue_line("markers", "task4: Task 4 (evaluate (token-weighted perplexity))")
    config.addinivalue_line("markers", "task5: Task 5 (l2_grad_norm_recurrent)")
    config.addinivalue_line("markers", "task6: Task 6 (gradient_through_time)")
