"""The portal's library: request and environment helpers, health checks, websocket and JSON
safety, the database engine and connection counting, metrics, trusted proxies, background
services. It holds no models and imports no app and nothing from portal/ (the top shell), so
every app may import it."""
