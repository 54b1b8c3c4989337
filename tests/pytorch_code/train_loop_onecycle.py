# A training loop in the style of today's CIFAR scripts: AdamW, one-cycle schedule, label smoothing, gradient
# clipping, non-blocking copies, evaluation under inference_mode, on the data the test provides
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
train_loader = DataLoader(TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)), batch_size=2,
                          shuffle=False, num_workers=4, pin_memory=True, drop_last=True)
model = net.to(device)
epochs = 2
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=5e-2)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, epochs=epochs,
                                                steps_per_epoch=len(train_loader))
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"{n_params:,} trainable parameters")

for epoch in range(epochs):
    model.train()
    for step, (x, y) in enumerate(train_loader):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        print(f"epoch {epoch} step {step} loss {loss.item():.5f} grad norm {grad_norm:.5f} "
              f"lr {scheduler.get_last_lr()[0]:.3e}")

    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(images).to(device))
        probs = F.softmax(logits, dim=1)
        top_p, top_class = probs.topk(1, dim=1)
        accuracy = (top_class.squeeze(1).cpu() == torch.from_numpy(labels)).float().mean()
    print(f"eval accuracy {accuracy.item():.3f} mean top probability {top_p.mean():.5f}")
