// The call desk: what the caller said with the bot's reading, the trail, the caller's orders
// and earlier calls, and suggested answers to accept, edit or reject. Everything from the
// server is put into the page with textContent (PD.el), so a caller's words are always text.
"use strict";
(() => {
  const root = document.getElementById("call");
  if (!root) return;
  const callId = root.dataset.callId;
  const { api, el, flash } = PD;
  const $ = (id) => document.getElementById(id);
  let keySeq = 0;
  const requestKey = () => `call-${callId}-${Date.now()}-${keySeq++}`;

  function renderLines(lines) {
    $("lines").replaceChildren(...lines.map((line) => {
      const reading = line.intent
        ? `${line.intent}（${line.confidence === null ? "?" : line.confidence.toFixed(2)}）`
        : "没有理解结果";
      const entities = line.entities.map((e) => `${e.entity}=${e.value}`).join("，");
      return el("li", { dataset: { testid: "line" } },
        el("div", { className: "said", text: line.text }),
        el("div", { className: "reading" },
          el("span", { dataset: { testid: "line-intent" }, text: reading }),
          entities ? el("span", { text: ` · ${entities}` }) : null));
    }));
  }

  function renderMail(state) {
    $("numbers").replaceChildren(...state.numbers.filter((n) => n.warning).map(
      (n) => el("p", { className: "warning", dataset: { testid: "number-warning" }, text: n.warning })));
    const mail = state.mail;
    if (!mail) {
      $("mail").replaceChildren(el("p", { className: "muted",
        text: state.numbers.length ? "系统中查不到这件邮件。" : "来电人说出单号后显示。" }));
      return;
    }
    const rows = mail.trail.map((e) => el("tr", {},
      el("td", { text: (e.at || "").replace("T", " ").slice(0, 16) }), el("td", { text: e.place }),
      el("td", { text: e.status }), el("td", { text: e.description })));
    $("mail").replaceChildren(
      el("p", { dataset: { testid: "mail-number" } },
        `${mail.number} · ${mail.product} · ${mail.status} · ${mail.from} → ${mail.to}`),
      el("table", { dataset: { testid: "trail" } },
        el("tr", {}, el("th", { text: "时间" }), el("th", { text: "地点" }),
          el("th", { text: "状态" }), el("th", { text: "说明" })), ...rows));
  }

  function renderPeople(state) {
    $("orders").replaceChildren(...state.orders.map((o) => el("li", { dataset: { testid: "caller-order" } },
      el("a", { href: `/orders/${encodeURIComponent(o.number)}`, text: o.number }),
      ` ${o.channel} · ${o.category} · ${o.status}`)));
    if (!state.orders.length) $("orders").replaceChildren(el("li", { className: "muted", text: "没有工单" }));
    $("earlier").replaceChildren(...state.earlier_calls.map((c) => el("li", {},
      `#${c.id} ${c.started_at} ${c.line} ${c.agent}`,
      ...c.orders.map((n) => el("a", { href: `/orders/${encodeURIComponent(n)}`, text: ` ${n}` })))));
    if (!state.earlier_calls.length) $("earlier").replaceChildren(el("li", { className: "muted", text: "没有以前的来电" }));
  }

  async function decide(suggestion, finalText) {
    const body = { request_key: requestKey(), suggestion_kind: suggestion.kind,
                   suggested_text: suggestion.text, final_text: finalText };
    try {
      const answer = await api("POST", `/api/calls/${callId}/replies`, body);
      const r = answer.reply;
      const what = { accepted: "已采纳", edited: `已修改后采纳（改动 ${r.edit_distance} 字）`,
                     rejected: "已拒绝" }[r.decision] || r.decision;
      flash(what);
      await refresh();
    } catch (error) { flash(error.message, true); }
  }

  function renderSuggestions(state) {
    const box = $("suggestions");
    if (!state.call.mine || !state.call.open) {
      box.replaceChildren(el("p", { className: "muted", text: "通话结束后不再给出建议。" }));
      return;
    }
    if (!state.suggestions.length) {
      box.replaceChildren(el("p", { className: "muted", text: "记录来电人说的话后给出建议答复。" }));
      return;
    }
    box.replaceChildren(...state.suggestions.map((s) => {
      const text = el("textarea", { value: s.text, dataset: { testid: "suggestion-text" } });
      return el("div", { className: "suggestion", dataset: { testid: "suggestion", kind: s.kind } },
        el("strong", { text: s.label }), text,
        el("p", {},
          el("button", { type: "button", text: "采纳", dataset: { testid: "suggestion-accept" },
                         onclick: () => decide(s, text.value) }), " ",
          el("button", { type: "button", text: "拒绝", dataset: { testid: "suggestion-reject" },
                         onclick: () => decide(s, null) })));
    }));
  }

  function renderReplies(state) {
    $("replies").replaceChildren(...state.replies.map((r) => el("li", { dataset: { testid: "reply", decision: r.decision } },
      `${r.kind || ""} · ${{ accepted: "采纳", edited: "修改后采纳", rejected: "拒绝", written: "自行撰写" }[r.decision] || r.decision}`,
      r.edit_distance ? `（改动 ${r.edit_distance} 字）` : "",
      r.final ? el("div", { className: "said", text: r.final }) : null)));
  }

  function render(state) {
    document.querySelector('[data-testid="call-phone-shown"]').textContent = state.call.phone;
    document.querySelector('[data-testid="call-line-shown"]').textContent = state.call.line_label;
    document.querySelector('[data-testid="call-status"]').textContent = state.call.open ? "通话中" : "已结束";
    $("line-form").hidden = !(state.call.mine && state.call.open);
    renderLines(state.lines);
    renderMail(state);
    renderPeople(state);
    renderSuggestions(state);
    renderReplies(state);
    if (state.rasa_error) flash(state.rasa_error, true);
  }

  async function refresh() {
    try { render(await api("GET", `/api/calls/${callId}`)); } catch (error) { flash(error.message, true); }
  }

  async function submitLine(event) {
    event.preventDefault();
    const box = $("line-text");
    const text = box.value.trim();
    if (!text) return;
    try {
      const state = await api("POST", `/api/calls/${callId}/lines`, { text });
      box.value = "";
      if (!state.rasa_error) flash("已记录");
      render(state);
    } catch (error) { flash(error.message, true); }
  }

  $("line-form").addEventListener("submit", submitLine);
  $("line-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submitLine(event);
  });
  $("end-call").addEventListener("click", async () => {
    try { render(await api("POST", `/api/calls/${callId}/end`)); flash("通话已结束"); }
    catch (error) { flash(error.message, true); }
  });
  refresh();
})();
