"""Where generated images live: a `Storage` protocol and its implementations (the local folder today)."""
