"""The operational store: the bottom layer of PostDesk.

Tables (`models`), queries (`repositories`), the unit of work (`uow`), engine and migrations
(`db`, ``migrations/``), and the domain services over them (`services`, `workorders`,
`accounts`, `desk`, `seed`). It imports only `bot.config` and `bot.text`: everything else
(work-order rules, the trainer, the workbench, reports, channels, actions) is built on it,
never the other way round (tests/store/test_layering.py checks this).
"""
