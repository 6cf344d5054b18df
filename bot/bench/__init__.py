"""Benchmarks, and the data they run on; nothing here is used by the running product.

* `bot.bench.turns` (``python -m bot.bench --model M``): NLU latency, full turns through the
  REST and WeChat channels, throughput, training time and peak memory, on servers it starts;
* `bot.bench.reports` (``python -m bot.bench.reports``): the daily report and the monthly
  statistics timed on a year of data, on SQLite and PostgreSQL;
* `bot.bench.bigseed` (``python -m bot.bench.bigseed --database-url URL``): writes that year
  of realistic data (100,000 work orders, over 1,000,000 tracking events by default).

``make bench`` runs the first two.
"""
