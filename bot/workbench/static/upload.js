// The upload form: refuse a file over the limit or of another type before sending it.
"use strict";
(() => {
  const form = document.querySelector('[data-testid="upload-form"]');
  if (!form) return;
  const note = document.getElementById("upload-note");
  form.addEventListener("submit", (event) => {
    const file = document.getElementById("u-file").files[0];
    const limit = Number(form.dataset.maxBytes);
    note.textContent = "";
    if (file && file.size > limit) {
      event.preventDefault();
      note.textContent = `文件太大：最多 ${Math.floor(limit / 1024)} KB，请分成几个文件上传`;
    } else if (file && !/\.(xlsx|xlsm|csv|txt|tsv)$/i.test(file.name)) {
      event.preventDefault();
      note.textContent = "不支持的文件类型：请上传 .xlsx 或 .csv 文件";
    }
  });
})();
