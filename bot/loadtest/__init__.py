"""The load harness: ``python -m bot.loadtest`` (``make loadtest``).

Customers arrive open loop (at a rate, whatever the replies do) and each sends a few questions
about the demo mail in sequence over REST and signed WeChat XML; the harness prints turns/s and
latency percentiles, and checks in Rasa's trackers that every message arrived once, in order.
``plan`` draws the customers, ``clients`` speaks to the channels, ``report`` does the figures.
"""
