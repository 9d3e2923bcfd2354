#!/usr/bin/env python3
"""Seconds per epoch of scikit-learn's MLPClassifier on the digits.

MLPClassifier(hidden_layer_sizes=(32,), activation='logistic', batch_size=32,
alpha=0, shuffle=True), solver 'sgd' (learning_rate_init 0.1, momentum 0,
no Nesterov: plain SGD) or 'adam' (learning_rate_init 0.01); float64 (the
data are float64), one thread. One epoch is one partial_fit call (one pass
over the rows in mini-batches). Prints one JSON object (benches/python/
README.md):

    python3 benches/python/train_epoch_sklearn.py --optimizer sgd --epochs 30
"""

import time

_START = time.perf_counter()

import bench_common  # noqa: E402  (sets the thread counts first)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


def main():
    args = bench_common.arguments(__doc__.splitlines()[0], {"sgd": 0.1, "adam": 0.01})
    x, y = bench_common.digits(args.data, args.rows)
    common = dict(
        hidden_layer_sizes=(args.hidden,),
        activation="logistic",
        batch_size=args.batch_size,
        alpha=0.0,
        learning_rate_init=args.lr,
        shuffle=True,
        random_state=args.seed,
    )
    if args.optimizer == "sgd":
        model = MLPClassifier(solver="sgd", momentum=0.0, nesterovs_momentum=False,
                              learning_rate="constant", **common)
    else:
        model = MLPClassifier(solver="adam", **common)
    classes = np.arange(10)
    epoch_seconds = []
    with threadpool_limits(limits=1):
        loop_start = time.perf_counter()
        startup = loop_start - _START
        for _ in range(args.epochs):
            t0 = time.perf_counter()
            model.partial_fit(x, y, classes=classes)
            epoch_seconds.append(time.perf_counter() - t0)
        loop = time.perf_counter() - loop_start
        report = {
            "system": "scikit-learn",
            "version": sklearn.__version__,
            "optimizer": args.optimizer,
            "lr": args.lr,
            "rows": len(x),
            "batch_size": args.batch_size,
            "hidden": args.hidden,
            "dtype": str(model.coefs_[0].dtype),
            "threads": 1,
            "final_train_loss": float(model.loss_),
        }
        bench_common.report(report, epoch_seconds, loop, startup)


if __name__ == "__main__":
    main()
