// The work-order form: the deadline of the chosen channel, shown before saving.
"use strict";
(() => {
  const channel = document.getElementById("f-channel");
  if (!channel) return;
  channel.addEventListener("change", async () => {
    try {
      const preview = await PD.api("GET", `/api/orders/deadline?channel=${encodeURIComponent(channel.value)}`);
      document.getElementById("deadline-rule").textContent = preview.rule;
      document.getElementById("deadline-at").textContent = preview.deadline;
    } catch (error) {
      document.getElementById("deadline-rule").textContent = error.message;
    }
  });
})();
