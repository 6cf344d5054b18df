// The trainers' NLU inbox: choose an intent, mark entities by selecting text in the message,
// save or discard; export the annotations. The message is only ever set with textContent.
//
// Offsets: the server counts characters (code points); JavaScript strings count UTF-16 units,
// so positions are converted (an emoji is one character on the server, two units here).
"use strict";
(() => {
  const table = document.getElementById("candidates");
  const STATUS = { new: "待标注", annotated: "已标注", discarded: "已丢弃", exported: "已导出",
                   conflict: "有冲突" };
  const vocabulary = table ? JSON.parse(table.dataset.vocabulary) : { intents: [], entities: [] };
  const entityLabel = Object.fromEntries(vocabulary.entities.map((e) => [e.name, e.label]));
  const rows = new Map();   // tr -> row state
  const HINT = "在消息里选中文字，再选实体类型并点“标记实体”";

  const chars = (text) => Array.from(text);
  const codePoints = (text, units) => Array.from(text.slice(0, units)).length;

  // Draw the message with its entities highlighted (segments as text nodes / <mark>).
  function drawText(state) {
    const parts = chars(state.text);
    const nodes = [];
    let at = 0;
    for (const e of [...state.entities].sort((a, b) => a.start - b.start)) {
      if (e.start > at) nodes.push(document.createTextNode(parts.slice(at, e.start).join("")));
      nodes.push(PD.el("mark", { dataset: { entity: e.entity },
                                 title: `${e.entity} ${entityLabel[e.entity] || ""}`,
                                 text: parts.slice(e.start, e.end).join("") }));
      at = e.end;
    }
    if (at < parts.length) nodes.push(document.createTextNode(parts.slice(at).join("")));
    state.textNode.replaceChildren(...nodes);
  }

  function drawChips(state) {
    const parts = chars(state.text);
    state.chips.replaceChildren(...[...state.entities].sort((a, b) => a.start - b.start).map((e) =>
      PD.el("li", { dataset: { testid: "entity-chip", entity: e.entity, start: e.start, end: e.end } },
        `${e.entity}（${entityLabel[e.entity] || ""}）：`,
        PD.el("span", { text: parts.slice(e.start, e.end).join("") }),
        PD.el("button", { type: "button", text: "×", title: "去掉这个实体",
                          dataset: { testid: "remove-entity" },
                          onclick: () => { state.entities = state.entities.filter((x) => x !== e);
                                           redraw(state); } }))));
  }

  function redraw(state) {
    drawText(state);
    drawChips(state);
  }

  // The selected part of a row's message as code-point offsets, trimmed of spaces; or null.
  function selectionIn(state) {
    const selection = window.getSelection();
    if (!selection || !selection.rangeCount || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    const node = state.textNode;
    if (!node.contains(range.startContainer) || !node.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.selectNodeContents(node);
    before.setEnd(range.startContainer, range.startOffset);
    const startUnits = before.toString().length;
    const endUnits = startUnits + range.toString().length;
    let start = codePoints(state.text, startUnits);
    let end = codePoints(state.text, endUnits);
    const parts = chars(state.text);
    while (start < end && /\s/.test(parts[start])) start += 1;
    while (end > start && /\s/.test(parts[end - 1])) end -= 1;
    return start < end ? { start, end } : null;
  }

  function setStatus(state, candidate) {
    state.row.dataset.status = candidate.status;
    const tag = state.row.querySelector('[data-testid="candidate-status"]');
    tag.textContent = STATUS[candidate.status] || candidate.status;
  }

  async function post(url, body) {
    try {
      return await PD.api("POST", url, body);
    } catch (e) {
      PD.flash(e.message, true);
      return null;
    }
  }

  function setUp(row) {
    const state = {
      row, id: row.dataset.id,
      textNode: row.querySelector('[data-testid="candidate-text"]'),
      entities: JSON.parse(row.dataset.entities || "[]"),
      selected: null,
    };
    state.text = state.textNode.textContent;
    const box = row.querySelector('[data-testid="annotator"]');
    const intent = PD.el("select", { dataset: { testid: "intent-select" }, title: "意图" },
      PD.el("option", { value: "", text: "选择意图…" }),
      ...vocabulary.intents.map((i) => PD.el("option", { value: i.name, text: `${i.name} ${i.label}` })));
    intent.value = row.dataset.intent || "";
    const entity = PD.el("select", { dataset: { testid: "entity-select" }, title: "实体类型" },
      ...vocabulary.entities.map((e) => PD.el("option", { value: e.name, text: `${e.name} ${e.label}` })));
    const hint = PD.el("span", { className: "selection-hint", dataset: { testid: "selection-hint" },
                                 text: HINT });
    state.chips = PD.el("ul", { className: "chips", dataset: { testid: "entity-list" } });
    const mark = PD.el("button", { type: "button", text: "标记实体", dataset: { testid: "mark-entity" },
      onclick: () => {
        const span = state.selected;
        if (!span) { PD.flash("请先在这条消息里选中要标记的文字", true); return; }
        if (state.entities.some((e) => span.start < e.end && e.start < span.end)) {
          PD.flash("和已标记的实体重叠了：请先去掉原来的实体", true);
          return;
        }
        state.entities.push({ start: span.start, end: span.end, entity: entity.value });
        state.selected = null;
        window.getSelection().removeAllRanges();
        state.hint.textContent = HINT;
        redraw(state);
      } });
    const save = PD.el("button", { type: "button", text: "保存标注", dataset: { testid: "save-annotation" },
      onclick: async () => {
        if (!intent.value) { PD.flash("请选择意图", true); return; }
        const answer = await post(`/api/trainer/candidates/${state.id}/annotate`, {
          intent: intent.value,
          entities: state.entities.map(({ start, end, entity: name }) => ({ start, end, entity: name })) });
        if (answer) {
          setStatus(state, answer.candidate);
          PD.flash(`已保存 #${state.id}：${answer.candidate.intent}`);
        }
      } });
    const drop = PD.el("button", { type: "button", text: "丢弃", dataset: { testid: "discard-candidate" },
      onclick: async () => {
        const answer = await post(`/api/trainer/candidates/${state.id}/discard`);
        if (answer) {
          setStatus(state, answer.candidate);
          PD.flash(`已丢弃 #${state.id}`);
        }
      } });
    box.append(PD.el("div", {}, intent, entity, mark, " ", hint), state.chips,
               PD.el("div", {}, save, " ", drop));
    state.hint = hint;
    rows.set(row, state);
    redraw(state);
  }

  document.addEventListener("selectionchange", () => {
    for (const state of rows.values()) {
      const span = selectionIn(state);
      if (span) {
        state.selected = span;
        state.hint.textContent = `已选中：“${chars(state.text).slice(span.start, span.end).join("")}”`;
      }
    }
  });

  function showExport(summary) {
    const box = document.getElementById("export-summary");
    const files = Object.entries(summary.files).map(([name, n]) =>
      PD.el("li", { text: `${name}：${n} 条${summary.changed.includes(name) ? "（已更新）" : "（未变）"}` }));
    const removed = summary.removed.map((name) => PD.el("li", { text: `${name}：已删除（没有样例了）` }));
    const conflicts = summary.conflicts.map((c) =>
      PD.el("li", { dataset: { testid: "export-conflict", id: c.id } },
        PD.el("strong", { text: `#${c.id} ${c.intent}` }), "：", PD.el("span", { text: c.text }),
        PD.el("div", { className: "note", text: c.note })));
    box.replaceChildren(
      PD.el("p", { text: `写入 ${summary.written} 条（新导出 ${summary.newly_exported} 条），` +
                         `重复跳过 ${summary.duplicates} 条，冲突 ${summary.conflicts.length} 条。` }),
      PD.el("ul", {}, ...(files.length || removed.length ? [...files, ...removed]
                                                       : [PD.el("li", { text: "没有可导出的标注" })])),
      conflicts.length ? PD.el("p", { className: "error", text: "以下消息有冲突，没有写入：" }) : "",
      conflicts.length ? PD.el("ul", {}, ...conflicts) : "");
  }

  const exportButton = document.getElementById("export");
  if (exportButton) {
    exportButton.addEventListener("click", async () => {
      exportButton.disabled = true;
      try {
        const answer = await post("/api/trainer/export");
        if (answer) {
          showExport(answer.export);
          PD.flash("导出完成");
        }
      } finally {
        exportButton.disabled = false;
      }
    });
  }

  if (table) table.querySelectorAll('tr[data-testid="candidate-row"]').forEach(setUp);
})();
