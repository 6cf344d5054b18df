// Work-order pages: live countdowns to each order's feedback deadline, in the cells with
// data-deadline (PD.countdowns in common.js); an overdue order's row turns red too.
"use strict";
PD.countdowns("tr[data-testid='order-row']");
