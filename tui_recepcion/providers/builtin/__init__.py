"""The built-in providers, registered exactly as a third-party plugin would be."""
