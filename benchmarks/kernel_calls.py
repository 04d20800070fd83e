"""The LSTM's compiled kernel called directly, without autograd: microseconds per call.

    python benchmarks/kernel_calls.py [--calls 5000]
    perf record python benchmarks/kernel_calls.py --calls 30000; perf report

Times ``lstm_forward`` and ``lstm_backward`` of ``kernels.cpp`` on batches of
64 of the handout's training sets (one thread, as the lab trains the LSTM),
and, for scale, a large matrix product on the same thread: the figures in
docs/speed.md's "near its floor".
"""

from __future__ import annotations

import argparse
import time

import torch

from deepsets import LSTM, create_train_dataset
from deepsets.core import kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5_000, help="forward-backward pairs")
    args = parser.parse_args()
    ops = kernels.load()
    if ops is None:
        raise SystemExit(kernels.status())
    torch.set_num_threads(1)
    X = torch.as_tensor(create_train_dataset(n_train=64 * 50, seed=0)[0])
    batches = [batch.contiguous() for batch in X.split(64)]
    torch.manual_seed(0)
    model = LSTM()
    lstm = model.lstm
    params = [p.detach() for p in (model.embedding.weight, lstm.weight_ih_l0, lstm.bias_ih_l0,
                                   lstm.bias_hh_l0, lstm.weight_hh_l0, model.fc.weight,
                                   model.fc.bias)]
    emb, w_ih, _, _, w_hh, fc_w, _ = params
    grad = torch.randn(64)
    forward = backward = 0.0
    for i in range(args.calls):
        x = batches[i % len(batches)]
        began = time.perf_counter()
        pred, *saved = ops.lstm_forward(*params, x)
        between = time.perf_counter()
        ops.lstm_backward(grad, emb, w_ih, w_hh, fc_w, x, saved)
        forward += between - began
        backward += time.perf_counter() - between
    print(f"lstm_forward {forward / args.calls * 1e6:.0f} us, "
          f"lstm_backward {backward / args.calls * 1e6:.0f} us (one thread)")
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    began = time.perf_counter()
    for _ in range(5):
        torch.mm(a, b)
    seconds = (time.perf_counter() - began) / 5
    print(f"a 2048^3 matrix product: {2 * 2048 ** 3 / seconds / 1e9:.0f} GFlop/s (one thread)")


if __name__ == "__main__":
    main()
