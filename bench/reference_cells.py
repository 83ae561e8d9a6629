"""Times the PyTorch reference of the zero-cost paper on NAS-Bench-201 cells (run by bench_cold_start.py).

Runs in a Python that has PyTorch, with the reference's code on disk (its
``foresight`` package, not part of zcjax): for each arch string it builds the
reference's own NAS-Bench-201 network (PyTorch's default initialisation, as
``nasbench2_pred.py`` with ``--init_w_type none``) and times
``foresight.pruners.predictive.find_measures`` on one minibatch, every measure
the reference has (the paper's 8). Prints one JSON line per cell: the arch, the
seconds of ``find_measures`` and the seconds since the process started, then a
line with the import time. Nothing of the reference is copied here; it is
imported from ``--reference``.

    python bench/reference_cells.py --reference DIR --batch-file tests/data/golden_nb201/batch.npz ARCH [ARCH ...]
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", required=True, help="folder holding the reference's foresight package")
    p.add_argument("--batch-file", required=True, help=".npz with x (N, 3, 32, 32) float32 and y (N,) int")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's own)")
    p.add_argument("archs", nargs="+")
    args = p.parse_args()
    sys.path.insert(0, args.reference)
    import numpy as np
    import torch
    from foresight.models import nasbench2
    from foresight.pruners import predictive
    if args.threads:
        torch.set_num_threads(args.threads)
    with np.load(args.batch_file) as f:
        x, y = torch.from_numpy(np.asarray(f["x"], np.float32)), torch.from_numpy(np.asarray(f["y"], np.int64))
    loader = [(x, y)]
    print(json.dumps({"import_s": time.perf_counter() - START, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}), flush=True)
    for arch in args.archs:
        t0 = time.perf_counter()
        net = nasbench2.get_model_from_arch_str(arch, 10)
        t1 = time.perf_counter()
        measures = predictive.find_measures(net, loader, ("random", 1, 10), torch.device("cpu"))
        t2 = time.perf_counter()
        print(json.dumps({"arch": arch, "build_s": t1 - t0, "measures_s": t2 - t1, "since_start_s": t2 - START,
                          "measures": {k: float(v) for k, v in measures.items()}}), flush=True)


if __name__ == "__main__":
    main()
