/* The gradebook: one lab at a time by default (the newest release), full names, item titles,
 * the CSV link, and archiving of labs and learners (kept with every grade, out of the views). */
"use strict";

(function () {
  const { api, el, guarded, busy } = Course;
  const target = document.getElementById("gradebook");
  const select = document.getElementById("gradebook-lab");
  const showArchived = document.getElementById("gradebook-archived");
  const labArchive = document.getElementById("gradebook-archive-lab");
  const csv = document.getElementById("gradebook-csv");
  const csvBase = csv.getAttribute("href");
  let archived = { labs: [], learners: [] };

  function cell(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return Course.points(value);
    return String(value);
  }

  function query() {
    const params = new URLSearchParams();
    if (select.value) params.set("lab", select.value);
    if (showArchived.checked) params.set("archived", "1");
    const text = params.toString();
    return text ? `?${text}` : "";
  }

  async function archive(body, button) {
    await busy(button, "…", () => guarded(async () => {
      archived = await api("POST", "instructor/archive", body);
      await load();
    }, target));
  }

  function learnerButton(name) {
    const isArchived = archived.learners.includes(name);
    const button = el("button", {
      type: "button", class: "btn btn-sm btn-link p-0 course-archive-learner", "data-learner": name,
      title: isArchived ? "Show this learner in the gradebook again" : "Hide this learner (a test account, someone who left); the grades are kept",
    }, isArchived ? "Restore" : "Archive");
    button.addEventListener("click", () => archive({ learner: name, archived: !isArchived }, button));
    return button;
  }

  function showLabButton() {
    const lab = select.value;
    labArchive.hidden = !lab;
    if (!lab) return;
    const isArchived = archived.labs.includes(lab);
    labArchive.textContent = isArchived ? "Restore this lab" : "Archive this lab";
    labArchive.dataset.archived = isArchived ? "true" : "false";
  }

  async function load() {
    csv.href = `${csvBase}${query()}`;
    target.setAttribute("aria-busy", "true");
    await guarded(async () => {
      const table = await api("GET", `instructor/gradebook${query()}`);
      archived = table.archived || archived;
      showLabButton();
      target.removeAttribute("aria-busy");
      if (!table.rows.length) {
        target.replaceChildren(el("p", {}, "No learners yet."));
        return;
      }
      const heads = table.headers || {};
      target.replaceChildren(el("table", { class: "table table-sm table-striped", id: "gradebook-table" },
        el("caption", {}, `${table.rows.length} learner${table.rows.length === 1 ? "" : "s"}`),
        el("thead", {}, el("tr", {}, table.columns.map((c) => el("th", { scope: "col", title: c }, heads[c] || c)),
          el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Archive")))),
        el("tbody", {}, table.rows.map((row) => el("tr", {
          "data-learner": row.username, class: archived.learners.includes(row.username) ? "text-body-secondary" : null,
        }, table.columns.map((c) => el("td", {}, cell(row[c]))), el("td", {}, learnerButton(row.username)))))));
    }, target);
  }

  labArchive.addEventListener("click", () =>
    archive({ lab: select.value, archived: labArchive.dataset.archived !== "true" }, labArchive));

  guarded(async () => {
    const [labs, releases] = await Promise.all([api("GET", "instructor/labs"), api("GET", "instructor/releases")]);
    select.append(...labs.map((l) => el("option", { value: l.id }, l.title ? `${l.title} (${l.id})` : l.id)));
    // One lab at a time by default: the one released last (a whole programme is too wide to read).
    const newest = releases.length ? releases[0].lab : "";
    if (newest && labs.some((l) => l.id === newest)) select.value = newest;
    select.addEventListener("change", load);
    showArchived.addEventListener("change", load);
    await load();
  }, target);
})();
