"""Local fakes of GPU provider APIs, speaking each provider's wire format."""
