"""Mail provider plugins: hook specifications, the provider model and built-in providers."""
