# A small convolutional autoencoder for CIFAR-10 images, in the style of the tutorials' DCGAN generators and
# decoders: strided convolutions down, a transposed convolution and bilinear upsampling back up, and a class
# embedding added to the code (a conditional decoder)
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConditionalAutoencoder(nn.Module):
    def __init__(self, classes=10, code=16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 8, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(8, code, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(code), nn.LeakyReLU(0.2))
        self.embed = nn.Embedding(classes, code)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(code, 8, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
            nn.Conv2d(8, 3, 3, padding=1), nn.Tanh())

    def forward(self, x, y=None):
        z = self.encoder(x)
        if y is not None:
            z = z + self.embed(y)[:, :, None, None]
        return self.decoder(z)


net = ConditionalAutoencoder()
print(net.decoder[0], net.decoder[3], net.embed)
