# What people look at through gradients: a Grad-CAM style map from a layer's activation and grad_output (a forward
# and a full backward hook), a saliency map and an FGSM step from torch.autograd.grad and a tensor hook on the
# output; then training with RMSprop under a cyclical learning rate; on the data the test provides
import torch
import torch.nn as nn
import torch.nn.functional as F

x, y = torch.from_numpy(images), torch.from_numpy(labels)
target = torch.tanh(x)
net.eval()
layer = net.encoder[2]
seen = {}
forward_handle = layer.register_forward_hook(lambda module, inputs, output: seen.update(activation=output.detach()))
backward_handle = layer.register_full_backward_hook(lambda module, grad_in, grad_out: seen.update(grad=grad_out[0]))
code_norms = []
out = net(x)
out.register_hook(lambda grad: code_norms.append(grad.norm().item()))
score = out[:, 0].sum()
score.backward()
weights = seen['grad'].mean(dim=(2, 3), keepdim=True)
cam = F.relu((weights * seen['activation']).sum(dim=1))
print(f'cam shape {tuple(cam.shape)} max {cam.max().item():.6f} mean {cam.mean().item():.6f} '
      f'output grad norm {code_norms[0]:.6f}')
forward_handle.remove()
backward_handle.remove()

x_in = x.clone().requires_grad_(True)
loss = F.mse_loss(net(x_in), target, reduction='sum')
grad, = torch.autograd.grad(loss, x_in)
saliency = grad.abs().amax(dim=1)
x_adv = (x_in + 0.01 * grad.sign()).detach()
values, order = saliency.flatten(1).sort(dim=1, descending=True)
print(f'saliency top {values[:, 0].tolist()} fgsm loss {F.mse_loss(net(x_adv), target).item():.6f} '
      f'.grad left as it was: {x_in.grad is None}')

net.train()
optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, momentum=0.9)
scheduler = torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr=1e-4, max_lr=1e-3, step_size_up=2, mode='triangular2')
for step in range(4):
    optimizer.zero_grad()
    loss = F.mse_loss(net(x, y), target)
    loss.backward()
    optimizer.step()
    scheduler.step()
    print(f'step {step} loss {loss.item():.6f} lr {scheduler.get_last_lr()[0]:.6f} '
          f'momentum {optimizer.param_groups[0]["momentum"]:.4f}')
