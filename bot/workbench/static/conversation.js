// One handed-over conversation: state from /api/conversations/{id}/stream, replies and
// hand-over actions over the API. Customer text is only ever set with textContent.
"use strict";
(() => {
  const root = document.getElementById("conversation");
  const id = root.dataset.id;
  const me = root.dataset.me;
  const canReply = root.dataset.canReply === "yes";
  const $ = (x) => document.getElementById(x);
  const DECISIONS = { accepted: "直接采用", edited: "修改后发送", rejected: "拒绝", written: "自己写" };
  const DELIVERY = { pending: "等待客户端取走", sent: "已送达", failed: "失败", none: "—" };
  const STEPS = { claimed: "接入", transferred: "转交", released: "放回队列", handed_back: "交还机器人",
                  replied: "回复", rejected: "拒绝建议" };
  const time = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "");
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(16).slice(2)}`);
  let state = null;
  let ownKey = null;

  async function post(url, body) {
    try {
      return await PD.api("POST", url, body);
    } catch (e) {
      PD.flash(e.message, true);
      return null;
    }
  }

  async function handover(action, body) {
    if (await post(`/api/handovers/${id}/${action}`, body)) {
      PD.flash({ claim: "已接入，机器人已暂停", handback: "已交还机器人", release: "已放回队列",
                 transfer: "已转交" }[action]);
      await refresh();
    }
  }

  async function sendReply(payload) {
    const answer = await post(`/api/conversations/${id}/replies`, payload);
    if (!answer) return false;
    const reply = answer.reply;
    if (reply.delivery === "failed") PD.flash(`已记录，但没有送达：${reply.delivery_error}`, true);
    else PD.flash(reply.decision === "rejected" ? "已拒绝这条建议" : "已发送");
    await refresh();
    return reply.delivery !== "failed";
  }

  function renderTranscript(lines) {
    const box = $("transcript");
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.replaceChildren(...lines.map((line) => {
      const who = { customer: "客户", bot: "机器人", agent: `坐席 ${line.agent || ""}`, system: "" }[line.kind];
      const node = PD.el("div", { className: `msg ${line.kind}`, dataset: { testid: `msg-${line.kind}` } });
      if (who) node.append(PD.el("div", { className: "muted", text: `${who} · ${time(line.at)}` }));
      node.append(PD.el("div", { className: "text", text: line.text }));
      if (line.kind === "customer") {
        const conf = line.confidence === null ? "" : ` ${(line.confidence * 100).toFixed(0)}%`;
        const entities = line.entities.map((e) => `${e.entity}=${e.value}`).join("，");
        node.append(PD.el("div", {
          className: `reading${line.confidence !== null && line.confidence < 0.5 ? " low" : ""}`,
          dataset: { testid: "reading" },
          text: `理解：${line.intent || "—"}${conf}${entities ? `；实体：${entities}` : ""}` }));
        if (state && state.intents.length && line.ts !== null) node.append(correction(line));
      }
      return node;
    }));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  // "理解错了": the agent picks the right intent; the message goes to the trainers' inbox.
  function correction(line) {
    const select = PD.el("select", { dataset: { testid: "correct-intent" } },
      PD.el("option", { value: "", text: "理解错了？选正确意图" }),
      ...state.intents.map((name) => PD.el("option", { value: name, text: name })));
    select.onchange = async () => {
      if (!select.value) return;
      if (await post(`/api/conversations/${id}/corrections`, { ts: line.ts, intent: select.value })) {
        PD.flash(`已把这条消息交给训练师（正确意图：${select.value}）`);
      }
    };
    return PD.el("div", { className: "reading" }, select);
  }

  function renderSuggestions(suggestions) {
    const box = $("suggestions");
    const wanted = new Map(suggestions.map((s) => [`${s.kind}\u0001${s.text}`, s]));
    for (const card of [...box.children]) {
      if (!wanted.has(card.dataset.key) && !card.contains(document.activeElement)) card.remove();
    }
    const present = new Set([...box.children].map((c) => c.dataset.key));
    for (const [key, s] of wanted) {
      if (present.has(key)) continue;
      const text = PD.el("textarea", { value: s.text, maxLength: 2000 });
      const requestKey = newKey();
      const card = PD.el("div", { className: "suggestion", dataset: { key, testid: "suggestion", kind: s.kind } },
        PD.el("div", { className: "muted", text: s.label }), text,
        PD.el("button", { type: "button", text: "发送", dataset: { testid: "send-suggestion" },
          onclick: async () => {
            if (await sendReply({ request_key: requestKey, suggestion_kind: s.kind,
                                  suggested_text: s.text, final_text: text.value })) card.remove();
          } }),
        " ",
        PD.el("button", { type: "button", text: "拒绝", dataset: { testid: "reject-suggestion" },
          onclick: async () => {
            if (await sendReply({ request_key: requestKey, suggestion_kind: s.kind,
                                  suggested_text: s.text, final_text: null })) card.remove();
          } }));
      box.append(card);
    }
  }

  function renderMail(mail) {
    const box = $("mail");
    if (!mail) return;
    const flags = [mail.stuck ? "长时间无动态" : "", mail.overdue ? "已超时限" : ""].filter(Boolean).join("，");
    box.replaceChildren(
      PD.el("p", {}, PD.el("strong", { text: `${mail.product} ${mail.number}` }), ` ${mail.status}`,
        flags ? PD.el("span", { className: "overdue", text: `（${flags}）` }) : null),
      PD.el("p", { className: "muted", text: `${mail.from} → ${mail.to}${mail.signed_by ? `，签收：${mail.signed_by}` : ""}` }),
      PD.el("table", {}, PD.el("tbody", { dataset: { testid: "trail" } }, ...mail.trail.map((e) =>
        PD.el("tr", {}, PD.el("td", { text: time(e.at) }), PD.el("td", { text: e.place || e.unit }),
          PD.el("td", { text: e.status }), PD.el("td", { text: e.description }))))));
  }

  function renderOrders(orders) {
    if (!orders.length) return;
    $("orders").replaceChildren(PD.el("table", {}, PD.el("tbody", {}, ...orders.map((o) =>
      PD.el("tr", {}, PD.el("td", {}, PD.el("a", { href: `/orders/${o.number}`, text: o.number })),
        PD.el("td", { text: `${o.category}｜${o.status}｜${o.priority}` }),
        PD.el("td", { className: o.overdue && o.open ? "overdue" : "",
                      text: o.open ? `时限 ${time(o.deadline)}${o.overdue ? "（已超时）" : ""}` : "已办结" }),
        PD.el("td", { text: o.description }))))));
  }

  function render(data) {
    state = data;
    const h = data.handover;
    const mine = h.status === "taken" && h.assigned_to === me;
    $("status").textContent = h.status === "taken" ? `${h.status_label}：${h.assigned_to}` : h.status_label;
    $("handover-info").textContent =
      `${h.channel === "wechat" ? "微信" : h.channel} · ${h.reason_label} · 转人工于 ${time(h.created_at)}` +
      (data.paused ? " · 机器人已暂停" : "");
    $("claim").hidden = !(canReply && h.status === "waiting");
    for (const x of ["transfer-to", "transfer", "release", "handback"]) $(x).hidden = !(mine || (!canReply && h.status === "taken"));
    $("reply-card").hidden = !(mine && canReply);
    $("rasa-error").hidden = !data.rasa_error;
    $("rasa-error").textContent = data.rasa_error || "";
    renderTranscript(data.transcript);
    if (mine && canReply) renderSuggestions(data.suggestions);
    renderMail(data.mail);
    renderOrders(data.orders);
    $("replies").replaceChildren(...data.replies.map((r) => PD.el("tr", { dataset: { testid: "reply-row" } },
      PD.el("td", { text: time(r.at) }), PD.el("td", { text: r.agent }), PD.el("td", { text: r.kind || "—" }),
      PD.el("td", { text: DECISIONS[r.decision] + (r.decision === "edited" ? `（改动 ${r.edit_distance} 字）` : "") }),
      PD.el("td", { text: r.final || "" }),
      PD.el("td", { className: r.delivery === "failed" ? "error" : "",
                    text: DELIVERY[r.delivery] + (r.delivery_error ? `：${r.delivery_error}` : "") }))));
    $("steps").replaceChildren(...data.events.map((e) =>
      PD.el("li", { text: `${time(e.at)} ${e.actor} ${STEPS[e.action] || e.action}${e.detail ? `（${e.detail}）` : ""}` })));
  }

  async function refresh() {
    try { render(await PD.api("GET", `/api/conversations/${id}`)); } catch (e) { PD.flash(e.message, true); }
  }

  $("claim").onclick = () => handover("claim");
  $("release").onclick = () => handover("release");
  $("handback").onclick = () => handover("handback");
  $("transfer").onclick = () => handover("transfer", { to: $("transfer-to").value });
  $("send-own").onclick = async () => {
    const text = $("own-text").value;
    ownKey = ownKey || newKey();
    if (await sendReply({ request_key: ownKey, final_text: text })) { $("own-text").value = ""; ownKey = null; }
  };
  $("own-text").oninput = () => { ownKey = null; };

  const source = new EventSource(`/api/conversations/${id}/stream`);
  source.onmessage = (message) => render(JSON.parse(message.data));
})();
