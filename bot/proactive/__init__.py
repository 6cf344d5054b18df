"""Proactive service (主动客服): VIP customers, 特安 mail and key projects followed before anyone
complains (issue 16). Rules over trails (`rules`), the scan (`scan`), notices (`notices`), the
imports (`importer`), the workbench's services (`service`), the demo data (`demo`)."""
