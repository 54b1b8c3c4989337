# Write-up 000 (CIFAR-10-Training): its networks as the write-up gives them, each built by init_net and trained by
# its Trainer. The write-up shows neither (they live in its CIFAR-10.py): the two below follow its description (a
# Trainer that keeps per-epoch metrics as CSV, figures and weights, with early stopping) in plain PyTorch. On the
# test's eight images: num_epochs 50/100 -> 2; batches of 4.
import copy
import csv
import os

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

in_size, out_size = 3 * 32 * 32, 10
X, y = torch.tensor(images), torch.tensor(labels)
X_test, y_test = torch.tensor(images[::-1].copy()), torch.tensor(labels[::-1].copy())


def init_net(net):
    def init_weights(m):
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)
    net.apply(init_weights)
    return net


class Trainer:
    def __init__(self, net, learning_rate=0.1, num_epochs=50, batch_size=4, Optim=torch.optim.SGD, weight_decay=0,
                 patience=None, name="net"):
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.net = net.to(self.device)
        self.num_epochs, self.batch_size, self.patience, self.name = num_epochs, batch_size, patience, name
        self.optimizer = Optim(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
        self.loss = nn.CrossEntropyLoss()
        self.metrics = []

    def evaluate(self, X, y):
        self.net.eval()
        with torch.no_grad():
            y_hat = self.net(X.to(self.device))
            y = y.to(self.device)
            return self.loss(y_hat, y).item(), (y_hat.argmax(dim=1) == y).float().mean().item()

    def train(self, X, y, X_test, y_test):
        loader = DataLoader(TensorDataset(X, y), batch_size=self.batch_size, shuffle=False)
        best_acc, best_state, waited = -1.0, None, 0
        for epoch in range(self.num_epochs):
            self.net.train()
            total_loss, correct, count = 0.0, 0, 0
            for xb, yb in loader:
                xb, yb = xb.to(self.device), yb.to(self.device)
                self.optimizer.zero_grad()
                out = self.net(xb)
                l = self.loss(out, yb)
                l.backward()
                self.optimizer.step()
                total_loss += l.item() * yb.shape[0]
                correct += (out.argmax(dim=1) == yb).sum().item()
                count += yb.shape[0]
            test_loss, test_acc = self.evaluate(X_test, y_test)
            self.metrics.append([epoch + 1, total_loss / count, correct / count, test_loss, test_acc])
            print(f"epoch {epoch + 1}: loss {total_loss / count:.4f}, acc {correct / count:.3f}, "
                  f"test loss {test_loss:.4f}, test acc {test_acc:.3f}")
            if test_acc > best_acc:
                best_acc, best_state, waited = test_acc, copy.deepcopy(self.net.state_dict()), 0
            else:
                waited += 1
                if self.patience is not None and waited >= self.patience:
                    print(f"early stop at epoch {epoch + 1}")
                    break
        self.net.load_state_dict(best_state)
        os.makedirs("output", exist_ok=True)
        with open(f"output/{self.name}_training_metrics.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", "train_loss", "train_acc", "test_loss", "test_acc"])
            writer.writerows(self.metrics)
        epochs = [row[0] for row in self.metrics]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        ax1.plot(epochs, [row[1] for row in self.metrics], label="train")
        ax1.plot(epochs, [row[3] for row in self.metrics], label="test")
        ax2.plot(epochs, [row[2] for row in self.metrics], label="train")
        ax2.plot(epochs, [row[4] for row in self.metrics], label="test")
        ax1.legend(), ax2.legend()
        fig.savefig(f"output/{self.name}_fig.png")
        torch.save(self.net.state_dict(), f"output/{self.name}.pth")

# %% mlp_first
mlp_first_net = init_net(nn.Sequential(
    nn.Flatten(),
    nn.Linear(in_size, 3*32), nn.ReLU(), nn.Dropout(0),
    nn.Linear(3*32, out_size)
))

# %% mlp_first training
mlp_first_trainer = Trainer(mlp_first_net, num_epochs=2, name="mlp_first")

mlp_first_trainer.train(X, y, X_test, y_test)

# %% mlp_final
mlp_final_net = init_net(nn.Sequential(
	nn.Flatten(),
	nn.Linear(in_size, 1024), nn.ReLU(), nn.Dropout(0.2),
	nn.Linear(1024, 512), nn.ReLU(), nn.Dropout(0.2),
	nn.Linear(512, 256), nn.ReLU(),
	nn.Linear(256, out_size)
))

# %% mlp_final training
mlp_final_trainer = Trainer(
    mlp_final_net,
    learning_rate=1e-3,
    num_epochs=2,
    Optim = torch.optim.Adam,
    weight_decay=1e-4,
    name="mlp_final"
)

mlp_final_trainer.train(X, y, X_test, y_test)

# %% cnn1
cnn1_net = init_net(nn.Sequential(
    nn.Conv2d(3, 64, kernel_size=3, padding=1),
    nn.ReLU(),
    nn.Conv2d(64, 32, kernel_size=3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),

    nn.Flatten(),
    nn.Linear(32*16*16, 256),
    nn.ReLU(),
    nn.Linear(256, out_size)
))

# %% cnn1 training
cnn1_trainer = Trainer(
    cnn1_net,
    learning_rate=1e-3,
    num_epochs=2,
    Optim=torch.optim.Adam,
    weight_decay=5e-4,
    name="cnn1"
)

cnn1_trainer.train(X, y, X_test, y_test)

# %% cnn2
cnn2_net = init_net(nn.Sequential(
    nn.Conv2d(3, 32, kernel_size=3, padding=1),  # (3,32,32) to (32,32,32)
    nn.BatchNorm2d(32),
    nn.ReLU(),
    nn.MaxPool2d(2),                             # to (32,16,16)

    nn.Conv2d(32, 64, kernel_size=3, padding=1), # to (64,16,16)
    nn.BatchNorm2d(64),
    nn.ReLU(),
    nn.MaxPool2d(2),                             # to (64,8,8)

    nn.Flatten(),                                # to (4096)
    nn.Linear(64*8*8, 256),
    nn.ReLU(),
    nn.Dropout(0.5),
    nn.Linear(256, out_size)
))

# %% cnn2 training
cnn2_trainer = Trainer(
    cnn2_net,
    learning_rate=1e-3,
    num_epochs=2,
    Optim=torch.optim.Adam,
    weight_decay=5e-4,
    name="cnn2"
)

cnn2_trainer.train(X, y, X_test, y_test)

# %% cnn3
cnn3_net = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1),
    nn.BatchNorm2d(32),
    nn.ReLU(),
    nn.Conv2d(32, 32, 3, padding=1),
    nn.BatchNorm2d(32),
    nn.ReLU(),
    nn.MaxPool2d(2),    # (32,16,16)

    nn.Conv2d(32, 64, 3, padding=1),
    nn.BatchNorm2d(64),
    nn.ReLU(),
    nn.Conv2d(64, 64, 3, padding=1),
    nn.BatchNorm2d(64),
    nn.ReLU(),
    nn.MaxPool2d(2),    # (64,8,8)

    nn.Conv2d(64, 128, 3, padding=1),
    nn.BatchNorm2d(128),
    nn.ReLU(),
    nn.MaxPool2d(2),    # (128,4,4)

    nn.Flatten(),
    nn.Linear(128*4*4, 256),
    nn.ReLU(),
    nn.Dropout(0.5),
    nn.Linear(256, out_size)
)

# %% cnn3 training
cnn3_trainer = Trainer(
    cnn3_net,
    learning_rate=3e-3,
    num_epochs=2,
    Optim=torch.optim.Adam,
    weight_decay=1e-4,
    patience=10,
    name="cnn3"
)

cnn3_trainer.train(X, y, X_test, y_test)
