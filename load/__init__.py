"""`python -m load` (`make load`): a bounded locust run against the local stack.

Run as its own process, never from pytest: locust runs on gevent and importing it monkey-patches
the standard library (sockets, threads, subprocess). Nothing here imports locust at package import
time; `load/__main__.py` imports it first, before anything else touches the network.
"""
