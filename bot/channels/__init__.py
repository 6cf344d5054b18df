"""Rasa channels: the WeChat Official Account (wechat*.py) and the hardened REST channel."""
