// The hand-over queue: rows from /api/queue/stream (server-sent events), actions over the API.
"use strict";
(() => {
  const table = document.getElementById("queue");
  const body = table.querySelector("tbody");
  const empty = document.getElementById("queue-empty");
  const live = document.getElementById("live-state");
  const canClaim = table.dataset.canClaim === "yes";
  let offset = PD.serverOffset();
  let entries = [];

  const waited = (iso) => PD.remaining((Date.now() + offset - Date.parse(iso)) / 1000);

  async function act(id, action, body) {
    try {
      await PD.api("POST", `/api/handovers/${id}/${action}`, body);
      if (action === "claim") window.location.href = `/conversations/${id}`;
    } catch (e) {
      PD.flash(e.message, true);
    }
  }

  function actions(entry) {
    const cell = PD.el("td");
    const open = PD.el("a", { href: `/conversations/${entry.id}`, text: "查看" });
    cell.append(open);
    if (entry.status === "waiting" && canClaim) {
      cell.append(" ", PD.el("button", { type: "button", text: "接入",
        dataset: { testid: "claim" }, onclick: () => act(entry.id, "claim") }));
    }
    if (entry.status === "taken" && entry.mine) {
      const to = PD.el("input", { type: "text", placeholder: "转给（用户名）", size: 10 });
      to.setAttribute("list", "agents");
      cell.append(" ", to, PD.el("button", { type: "button", text: "转交",
        onclick: () => act(entry.id, "transfer", { to: to.value }) }));
      cell.append(" ", PD.el("button", { type: "button", text: "交还机器人",
        dataset: { testid: "handback" }, onclick: () => act(entry.id, "handback") }));
    }
    return cell;
  }

  function render() {
    body.replaceChildren(...entries.map((entry) => {
      const status = entry.status === "taken"
        ? `${entry.status_label}（${entry.assigned_to}）` : entry.status_label;
      return PD.el("tr", { dataset: { testid: "queue-row", id: entry.id, sender: entry.sender } },
        PD.el("td", { text: `#${entry.id}` }),
        PD.el("td", { text: entry.channel === "wechat" ? "微信" : entry.channel }),
        PD.el("td", { text: entry.reason_label }),
        PD.el("td", { text: entry.last_message, dataset: { testid: "last-message" } }),
        PD.el("td", { text: status }),
        PD.el("td", { text: waited(entry.created_at), dataset: { created: entry.created_at },
                      className: "waited" }),
        actions(entry));
    }));
    empty.hidden = entries.length > 0;
  }

  function connect() {
    const source = new EventSource("/api/queue/stream");
    source.onopen = () => { live.textContent = "实时"; };
    source.onmessage = (message) => {
      const data = JSON.parse(message.data);
      offset = Date.parse(data.server_time) - Date.now();
      entries = data.entries;
      render();
    };
    source.onerror = () => { live.textContent = "连接中断，正在重连…"; };
  }

  setInterval(() => {
    for (const cell of body.querySelectorAll("td.waited")) cell.textContent = waited(cell.dataset.created);
  }, 1000);
  connect();
})();
