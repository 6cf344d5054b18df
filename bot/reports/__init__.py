"""Supervisors' reports: the daily WeChat-group text and the monthly KPI statistics.

* `bot.reports.daily` builds the daily warning text (abnormal mail per production unit,
  pending work orders per county, pickups chased a 3rd/4th time, overdue orders by channel);
* `bot.reports.monthly` computes the monthly KPIs in SQL; `bot.reports.xlsx` and
  `bot.reports.charts` export them as a workbook and PNG charts;
* `bot.reports.wecom` posts a text to a WeCom (企业微信) group robot.

``python -m bot.reports daily|monthly`` is the command line. The reports' benchmark on a year
of data lives with the other benchmarks, in `bot.bench`.
"""
