# A training loop with the tricks of today's CIFAR scripts: mixup on one-hot targets, a label-smoothing loss
# written with scatter_, distillation from a frozen copy of the model (kl_div, batchmean), a finite-loss check,
# the global gradient norm as SAM computes it and top-k accuracy, on the data the test provides. The mixing weight
# and the permutation come from NumPy (torch.randperm's numbers differ between frameworks)
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LabelSmoothingLoss(nn.Module):
    def __init__(self, classes, smoothing=0.1, dim=-1):
        super().__init__()
        self.confidence = 1.0 - smoothing
        self.smoothing = smoothing
        self.cls = classes
        self.dim = dim

    def forward(self, pred, target):
        pred = pred.log_softmax(dim=self.dim)
        with torch.no_grad():
            true_dist = torch.zeros_like(pred)
            true_dist.fill_(self.smoothing / (self.cls - 1))
            true_dist.scatter_(1, target.data.unsqueeze(1), self.confidence)
        return torch.mean(torch.sum(-true_dist * pred, dim=self.dim))


def accuracy(output, target, topk=(1,)):
    maxk = max(topk)
    batch_size = target.size(0)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    res = []
    for k in topk:
        correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
        res.append(correct_k.mul_(100.0 / batch_size))
    return res


teacher = copy.deepcopy(net).eval()
for p in teacher.parameters():
    p.requires_grad_(False)
criterion = LabelSmoothingLoss(10, smoothing=0.1)
optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
rng = np.random.default_rng(0)
x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
T = 4.0

for step in range(3):
    net.train()
    lam = float(rng.beta(1.0, 1.0))
    index = torch.from_numpy(rng.permutation(x_all.size(0)))
    mixed = lam * x_all + (1 - lam) * x_all[index, :]
    y_soft = lam * F.one_hot(y_all, 10).float() + (1 - lam) * F.one_hot(y_all[index], 10).float()
    logits = net(mixed)
    mix_loss = torch.sum(-y_soft * F.log_softmax(logits, dim=1), dim=1).mean()
    with torch.no_grad():
        teacher_logits = teacher(mixed)
    kd_loss = F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(teacher_logits / T, dim=1),
                       reduction='batchmean') * T * T
    loss = 0.5 * mix_loss + 0.3 * kd_loss + 0.2 * criterion(logits, y_all)
    if not torch.isfinite(loss):
        raise RuntimeError('loss is not finite')
    optimizer.zero_grad()
    loss.backward()
    grad_norm = torch.norm(torch.stack([p.grad.norm(p=2) for p in net.parameters() if p.grad is not None]), p=2)
    optimizer.step()
    print(f'step {step} lam {lam:.4f} mixup {mix_loss.item():.5f} kd {kd_loss.item():.5f} '
          f'loss {loss.item():.5f} grad norm {grad_norm.item():.5f}')

net.eval()
with torch.no_grad():
    output = net(x_all)
top1, top5 = accuracy(output, y_all, topk=(1, 5))
print(f'top-1 {top1.item():.2f} top-5 {top5.item():.2f} nan in output: {torch.isnan(output).any().item()}')
