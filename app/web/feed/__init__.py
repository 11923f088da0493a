"""The consumer app's gallery feed: `gallery` the curated examples of a preset, `media` their signed image links."""
