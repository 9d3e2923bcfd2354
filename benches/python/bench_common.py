"""What the two epoch benchmarks share: one thread, the digits rows, JSON out.

Import this module before numpy, torch or scikit-learn: the thread counts of
their thread pools are read from the environment when they load.
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DIGITS = os.path.join(ROOT, "tests", "data", "digits.csv")
# The training part of a 20 % held-out split of the 1,797 digits.
TRAIN_ROWS = 1438


def arguments(description, default_lr):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--lr", type=float, default=None,
                   help=f"learning rate (default: {default_lr['sgd']} for sgd, {default_lr['adam']} for adam)")
    p.add_argument("--epochs", type=int, default=30, help="epochs to time (default 30)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--rows", type=int, default=TRAIN_ROWS, help="the first ROWS rows train (default 1438)")
    p.add_argument("--data", default=DIGITS, help="the digits CSV (64 pixel columns, then label)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.lr is None:
        args.lr = default_lr[args.optimizer]
    return args


def digits(path, rows):
    """The first `rows` rows: pixels / 16 (float64) and the integer labels."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    if rows > len(table):
        sys.exit(f"{path} has {len(table)} rows, fewer than --rows {rows}")
    table = table[:rows]
    return table[:, :-1] / 16.0, table[:, -1].astype(np.int64)


def blas_info():
    """Which BLAS each library runs, with how many threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keep = ("internal_api", "num_threads", "version", "architecture", "filepath")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info()]


def report(result, epoch_seconds, loop_seconds, startup_seconds):
    result.update({
        "epochs": len(epoch_seconds),
        "median_epoch_s": statistics.median(epoch_seconds),
        "min_epoch_s": min(epoch_seconds),
        "epoch_s": epoch_seconds,
        "loop_s": loop_seconds,
        "startup_s": startup_seconds,
        "python": platform.python_version(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "blas": blas_info(),
    })
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


# The convolution benchmarks (conv_digits_torch.py, resblock_torch.py)
# exchange tensors with the Rust bench as raw little-endian float64 files,
# NAME.f64 in one directory, so that both sides start from the same bits.

def read_f64(directory, name, shape):
    """The tensor NAME.f64 of `directory`, reshaped to `shape`."""
    data = np.fromfile(os.path.join(directory, name + ".f64"), dtype="<f8")
    if data.size != int(np.prod(shape)):
        sys.exit(f"{name}.f64 has {data.size} entries, expected {int(np.prod(shape))} for {shape}")
    return data.reshape(shape)


def write_f64(directory, name, values):
    """Writes `values` (any array) flattened as NAME.f64 of `directory`."""
    np.asarray(values, dtype="<f8").reshape(-1).tofile(os.path.join(directory, name + ".f64"))


def median_seconds(run, repeats, warmup):
    """Calls `run()` `warmup` times untimed, then `repeats` times; the
    median and the minimum of the timed calls, in seconds, and all of them."""
    import time
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), times


def report_json(result):
    """Adds the interpreter and BLAS facts and prints `result` as one line."""
    result.update({
        "python": platform.python_version(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "blas": blas_info(),
    })
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
