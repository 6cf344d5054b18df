// Proactive-service pages: live countdowns to each task's deadline.
// Every cell with data-deadline (ISO 8601 with offset) shows the time left on the server's clock
// (data-server-time on the table or the fields card) and turns red once the deadline passed,
// as on the work-order pages. Text only, never HTML.
"use strict";
(() => {
  const cells = Array.from(document.querySelectorAll("[data-deadline]"))
    .map((cell) => ({ cell, deadline: Date.parse(cell.dataset.deadline) }))
    .filter((entry) => !Number.isNaN(entry.deadline));
  if (cells.length === 0) return;

  const holder = document.querySelector("[data-server-time]");
  const serverTime = holder ? Date.parse(holder.dataset.serverTime) : NaN;
  // The server's clock minus the browser's, so a wrong PC clock does not change the countdown.
  const offset = Number.isNaN(serverTime) ? PD.serverOffset() : serverTime - Date.now();

  function tick() {
    const now = Date.now() + offset;
    for (const { cell, deadline } of cells) {
      const seconds = (deadline - now) / 1000;
      const overdue = seconds < 0;
      cell.textContent = PD.remaining(seconds);
      cell.classList.toggle("overdue", overdue);
      const row = cell.closest("tr[data-testid='task-row']");
      if (row) {
        row.classList.toggle("overdue-row", overdue);
        if (overdue) row.dataset.overdue = "1";
      }
    }
  }

  tick();
  window.setInterval(tick, 1000);
})();
