# Write-up 002 (SimpleNet, cnblogs "从零开始：基于 PyTorch 的图像分类模型"): show_dataset.py, the model and the
# one-epoch training loop of main.py, on the test's ten images (the loss printed every 2 batches instead of 100).
# main.py's setup before the loop is not in the write-up: the few lines above the loop are written for the test.
import torch
from torchvision import datasets, transforms
import matplotlib.pyplot as plt

def show_dataset():
    # 数据预处理
    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    ])

    # 加载训练集
    print("Loading CIFAR-10 dataset...")
    trainset = datasets.CIFAR10(root='./data', train=True, download=True, transform=transform)

    # 定义类别
    classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')

    # 显示数据集信息
    print(f"\nDataset size: {len(trainset)} images")
    print(f"Image size: {trainset[0][0].shape}")
    print(f"Number of classes: {len(classes)}")

    # 显示样本图片
    plt.figure(figsize=(15, 5))
    for i in range(5):
        img, label = trainset[i]
        img = img / 2 + 0.5
        img = img.numpy()
        plt.subplot(1, 5, i + 1)
        plt.imshow(img.transpose(1, 2, 0))
        plt.title(f'Class: {classes[label]}')
        plt.axis('off')
    plt.tight_layout()
    plt.savefig('cifar10_samples.png')

    # 显示每个类别的样本数量
    class_counts = torch.zeros(10)
    for _, label in trainset:
        class_counts[label] += 1

    plt.figure(figsize=(10, 5))
    plt.bar(classes, class_counts)
    plt.title('Number of samples per class')
    plt.xticks(rotation=45)
    plt.tight_layout()
    plt.savefig('class_distribution.png')

    print("\nVisualization files saved:")
    print("- cifar10_samples.png")
    print("- class_distribution.png")

if __name__ == '__main__':
    show_dataset()

# %%
import torch
import torch.nn as nn

class SimpleNet(nn.Module):
    def __init__(self):
        super(SimpleNet, self).__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)  # 448参数
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # 4,640参数
        self.fc1 = nn.Linear(32 * 8 * 8, 10)  # 20,490参数

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.max_pool2d(x, 2)
        x = torch.relu(self.conv2(x))
        x = torch.max_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        x = self.fc1(x)
        return x

model = SimpleNet()

# %%
import torch.optim as optim
from torchvision import datasets, transforms

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Using device: {device}")
transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
])
trainset = datasets.CIFAR10(root='./data', train=True, download=True, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=2, shuffle=False)
model = model.to(device)
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.001)

# 训练一个epoch
print("Training for 1 epoch...")
model.train()  # 设置为训练模式（启用dropout等训练特定层）

# 遍历数据加载器
for i, (inputs, labels) in enumerate(trainloader):
    # 将数据移到指定设备（GPU/CPU）
    inputs, labels = inputs.to(device), labels.to(device)

    # 前向传播
    optimizer.zero_grad()  # 清空梯度
    outputs = model(inputs)  # 模型前向传播
    loss = criterion(outputs, labels)  # 计算损失
    loss.backward()  # 反向传播，计算梯度
    optimizer.step()  # 更新模型参数

    # 每2个batch打印一次损失
    if (i + 1) % 2 == 0:
        print(f'Batch [{i + 1}], Loss: {loss.item():.4f}')

print("Training finished!")
