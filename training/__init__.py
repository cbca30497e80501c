"""Segue's on-device PyTorch trainer; runs as `python -m training` in its own process."""
