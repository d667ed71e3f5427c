"""Threads, messages, runs and steps as OpenAI's API shows them, and the deltas of a run's stream.

The body of a GET and the data of a stream event are built here, once, so they cannot drift apart:
the API renders its responses with these functions and the run lifecycle and the engine publish
them as events. It depends on neither (plain rows in, JSON-ready dicts out).
"""
