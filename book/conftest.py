"""pytest (nbval) runs the chapter notebooks with ``book/`` as the kernel's working directory. Make this checkout's
``ewc`` importable there, and let the chapters reload the committed results of the published run instead of training
(``EWC_REUSE_RESULTS=1``, read by ``ewc.book.reuse``); ``python -m ewc book`` clears it and always trains."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
os.environ["EWC_REUSE_RESULTS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
