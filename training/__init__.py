"""Segue's on-device PyTorch trainer; runs as `python -m training` in its own process.

torch's OpenMP threads wait for work passively here: they sleep between parallel parts
instead of spinning. With the other core busy, two spinning threads made one epoch thirteen
times slower (137 s against 10 s on one thread, this 2-core machine); passive ones cost
nothing then (10 s) and still take an idle core's share (8.1 → 7.0 s). OpenMP reads the
setting when torch loads, so it is made here, before (``python -m training`` loads torch
later); where torch was loaded first, the trainer keeps to one thread (:data:`PASSIVE`).
"""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# torch's threads sleep while they wait (more than one of them is safe on a busy machine)
PASSIVE = "torch" not in sys.modules and os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE"
