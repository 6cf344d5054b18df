// Proactive-service pages: live countdowns to each task's deadline, in the cells with
// data-deadline (PD.countdowns in common.js), as on the work-order pages; an overdue task's row
// turns red too.
"use strict";
PD.countdowns("tr[data-testid='task-row']");
