/* The gradebook table (one row per learner and lab) with a lab filter and the CSV link. */
"use strict";

(function () {
  const { api, el, guarded } = Course;
  const target = document.getElementById("gradebook");
  const select = document.getElementById("gradebook-lab");
  const csv = document.getElementById("gradebook-csv");
  const csvBase = csv.getAttribute("href");

  function cell(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return Course.points(value);
    return String(value);
  }

  async function load() {
    const lab = select.value;
    csv.href = lab ? `${csvBase}?lab=${encodeURIComponent(lab)}` : csvBase;
    target.setAttribute("aria-busy", "true");
    await guarded(async () => {
      const table = await api("GET", lab ? `instructor/gradebook?lab=${encodeURIComponent(lab)}` : "instructor/gradebook");
      target.removeAttribute("aria-busy");
      if (!table.rows.length) {
        target.replaceChildren(el("p", {}, "No grades yet."));
        return;
      }
      target.replaceChildren(el("table", { class: "table table-sm table-striped", id: "gradebook-table" },
        el("caption", {}, `${table.rows.length} row${table.rows.length === 1 ? "" : "s"}`),
        el("thead", {}, el("tr", {}, table.columns.map((c) => el("th", { scope: "col" }, c)))),
        el("tbody", {}, table.rows.map((row) => el("tr", {}, table.columns.map((c) => el("td", {}, cell(row[c]))))))));
    }, target);
  }

  guarded(async () => {
    const labs = await api("GET", "instructor/labs");
    select.append(...labs.map((l) => el("option", { value: l.id }, l.title ? `${l.title} (${l.id})` : l.id)));
  });
  select.addEventListener("change", load);
  load();
})();
