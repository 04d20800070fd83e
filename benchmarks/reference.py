"""A plain implementation of the handout, written the way its template is.

Only for comparison in ``make bench``; the package never uses it. Numpy
arrays are converted to tensors batch by batch, phi runs on every token,
``nn.LSTM`` runs every step, and evaluation goes in batches of 64.

Run alone it is the whole reference lab: ``python benchmarks/reference.py OUT [EPOCHS [SEED]]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, mean_absolute_error
from torch import nn


def create_train_dataset(n_train=100_000, max_train_card=10):
    X_train = np.zeros((n_train, max_train_card), dtype=np.int64)
    y_train = np.zeros(n_train)
    for i in range(n_train):
        card = np.random.randint(1, max_train_card + 1)
        X_train[i, -card:] = np.random.randint(1, 11, size=card)
        y_train[i] = np.sum(X_train[i, :])
    return X_train, y_train


def create_test_dataset(n_per_card=10_000, cards=range(5, 101, 5)):
    X_test, y_test = [], []
    for card in cards:
        X = np.random.randint(1, 11, size=(n_per_card, card))
        X_test.append(X)
        y_test.append(X.sum(axis=1))
    return X_test, y_test


class DeepSets(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.fc1 = nn.Linear(embedding_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, 1)
        self.tanh = nn.Tanh()

    def forward(self, x):
        x = self.embedding(x)
        x = self.tanh(self.fc1(x))
        x = torch.sum(x, dim=1)
        x = self.fc2(x)
        return x.squeeze(-1)


class LSTM(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        x = self.embedding(x)
        _, (x, _) = self.lstm(x)
        x = self.fc(x)
        return x.squeeze()


def train_epoch(model, optimizer, X_train, y_train, batch_size=64):
    model.train()
    train_loss, count = 0.0, 0
    idx = np.random.permutation(len(X_train))
    for i in range(0, len(X_train), batch_size):
        x_batch = torch.LongTensor(X_train[idx[i:i + batch_size], :])
        y_batch = torch.FloatTensor(y_train[idx[i:i + batch_size]])
        optimizer.zero_grad()
        output = model(x_batch)
        loss = nn.functional.l1_loss(output, y_batch)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * output.size(0)
        count += output.size(0)
    return train_loss / count


def evaluate(model, X_test, y_test, batch_size=64):
    model.eval()
    results = {"acc": [], "mae": []}
    with torch.no_grad():
        for X, y in zip(X_test, y_test, strict=True):
            preds = []
            for j in range(0, len(X), batch_size):
                preds.append(model(torch.LongTensor(X[j:j + batch_size, :])))
            pred = torch.cat(preds).numpy()
            results["acc"].append(accuracy_score(y, np.round(pred)))
            results["mae"].append(mean_absolute_error(y, pred))
    return results


def main(out: Path, epochs: int = 20, seed: int = 0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    np.random.seed(seed)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    X_train, y_train = create_train_dataset()
    X_test, y_test = create_test_dataset()
    results = {"cards": list(range(5, 101, 5))}
    for name, cls in (("deepsets", DeepSets), ("lstm", LSTM)):
        model = cls(11, 128, 64)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for epoch in range(epochs):
            t = time.time()
            loss = train_epoch(model, optimizer, X_train, y_train)
            print(f"{name} epoch {epoch + 1} loss {loss:.4f} time {time.time() - t:.1f}s",
                  flush=True)
        torch.save({"state_dict": model.state_dict()}, out / f"{name}.pt")
        results[name] = evaluate(model, X_test, y_test)
    (out / "results.json").write_text(json.dumps(results))
    for name in ("deepsets", "lstm"):
        plt.plot(results["cards"], results[name]["acc"], label=name)
    plt.legend()
    plt.savefig(out / "accuracy.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(int(arg) for arg in sys.argv[2:4]))  # OUT [EPOCHS [SEED]]
