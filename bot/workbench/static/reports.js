// The supervisors' page: copy the daily report to the clipboard (to paste it into a WeChat
// group). navigator.clipboard needs a secure context (HTTPS or localhost); elsewhere the text
// is selected in a hidden textarea and copied with execCommand("copy").
"use strict";
(() => {
  function fallbackCopy(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    area.setSelectionRange(0, text.length);
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    area.remove();
    return copied;
  }

  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (e) {
        // permission refused: try the old way
      }
    }
    return fallbackCopy(text);
  }

  for (const button of document.querySelectorAll("[data-copy-target]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copyTarget);
      if (!source) return;
      const ok = await copy(source.value !== undefined ? source.value : source.textContent);
      PD.flash(ok ? "日报已复制，可以粘贴到微信群。" : "复制失败：请在文本框中全选后手动复制。", !ok);
    });
  }
})();
