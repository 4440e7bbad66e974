"""Replies: runs that generate them in the background, the typed events of their
streams, and following a stream (replay, then live) from any process."""
