"""Server-side dynamic batching, one batcher per servable, shared by every protocol.

``settings`` holds the settings (imported by ``moorings.config``); ``batcher``
holds the batcher itself.
"""
