"""Supervisors' reports: the daily WeChat-group text and the monthly KPI statistics.

* `bot.reports.daily` builds the daily warning text (abnormal mail per production unit,
  pending work orders per county, pickups chased a 3rd/4th time, overdue orders by channel);
* `bot.reports.monthly` computes the monthly KPIs in SQL; `bot.reports.xlsx` and
  `bot.reports.charts` export them as a workbook and PNG charts;
* `bot.reports.wecom` posts a text to a WeCom (企业微信) group robot;
* `bot.reports.bigseed` writes a year of realistic data and `bot.reports.bench` times the
  reports on it.

``python -m bot.reports daily|monthly|seed-year|bench`` is the command line.
"""
