// Shared helpers of the workbench pages. Everything a customer wrote is put into the page with
// textContent (never innerHTML), so it is always shown as text.
"use strict";
const PD = (() => {
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // fetch() with the session's CSRF token and JSON in and out; throws Error(message) on failure.
  async function api(method, url, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
                      credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      throw new Error((data && data.error) || `请求失败（${response.status}）`);
    }
    return data;
  }

  // el("td", {className: "x", dataset: {id: 3}}, "text", childNode, ...)
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = value;
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // "2小时05分" / "超时 1天3小时" from seconds left (negative = overdue).
  function remaining(seconds) {
    const overdue = seconds < 0;
    let s = Math.abs(Math.floor(seconds));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    let text;
    if (d > 0) text = `${d}天${h}小时`;
    else if (h > 0) text = `${h}小时${String(m).padStart(2, "0")}分`;
    else text = `${m}分${String(s).padStart(2, "0")}秒`;
    return overdue ? `超时 ${text}` : text;
  }

  // The server's clock minus the browser's (ms), from <meta name="server-time" content=ISO>.
  function serverOffset() {
    const meta = document.querySelector('meta[name="server-time"]');
    return meta ? Date.parse(meta.content) - Date.now() : 0;
  }

  // Live countdowns (work orders, proactive tasks): every element with data-deadline (ISO 8601 with
  // offset) shows the time left, counted on the server's clock (data-server-time on the table or
  // the fields card, else the server-time meta), and turns red (class "overdue") once the deadline
  // has passed; so does its row (the closest rowSelector: class "overdue-row", data-overdue="1").
  // Ticks every second. Text only, never HTML.
  function countdowns(rowSelector) {
    const cells = Array.from(document.querySelectorAll("[data-deadline]"))
      .map((cell) => ({ cell, deadline: Date.parse(cell.dataset.deadline) }))
      .filter((entry) => !Number.isNaN(entry.deadline));
    if (cells.length === 0) return;

    const holder = document.querySelector("[data-server-time]");
    const serverTime = holder ? Date.parse(holder.dataset.serverTime) : NaN;
    // The server's clock minus the browser's, so a wrong PC clock does not change the countdown.
    const offset = Number.isNaN(serverTime) ? serverOffset() : serverTime - Date.now();

    function tick() {
      const now = Date.now() + offset;
      for (const { cell, deadline } of cells) {
        const seconds = (deadline - now) / 1000;
        const overdue = seconds < 0;
        cell.textContent = remaining(seconds);
        cell.classList.toggle("overdue", overdue);
        const row = cell.closest(rowSelector);
        if (row) {
          row.classList.toggle("overdue-row", overdue);
          if (overdue) row.dataset.overdue = "1";
        }
      }
    }

    tick();
    window.setInterval(tick, 1000);
  }

  function flash(message, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = isError ? "flash error" : "flash";
  }

  return { api, el, remaining, serverOffset, countdowns, flash };
})();
