"""Plain PyTorch reference models (ViT/DeiT, Swin) and a tiny safetensors reader/writer for fqvit's tests."""
