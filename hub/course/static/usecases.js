/* The "Use cases" page: a team's use cases, their table (upload, format, column roles,
 * personal data, datasheet), model, assessment notebook, questionnaire and dossier.
 *
 * Everything comes from the use-case API (`api/usecases...`, openapi.yaml) through
 * `Course.api`; uploads go through XMLHttpRequest so that their progress can be shown.
 * Data is put into the page with textContent only. Words stay plain: the readers are
 * civil servants, not programmers. */
"use strict";

(function () {
  const { api, el, time, guarded, busy, announce, ApiError } = Course;
  const app = document.getElementById("usecases-app");
  const instructor = app.dataset.instructor === "yes";
  const listNode = document.getElementById("usecase-list");
  const view = document.getElementById("usecase-view");
  const xsrf = document.querySelector('meta[name="xsrf-token"]').content;
  const apiBase = document.body.dataset.api;

  const AREAS = new Map(
    [...document.getElementById("annex-iii").content.querySelectorAll("option")].map((o) => [o.value, o.textContent]),
  );
  const KINDS = [...document.getElementById("protected-kinds").content.querySelectorAll("option")]
    .map((o) => [o.value, o.textContent]);

  /** The roles a column can have: value, plain words, and what it means. */
  const ROLES = [
    ["feature", "Information used for the decision"],
    ["target", "Outcome (what the decision should get right)"],
    ["score", "Your current system's score or decision"],
    ["protected", "Protected characteristic (sex, age, nationality…)"],
    ["legitimate", "Legitimate reason for a difference (for example income)"],
    ["identifier", "Case number or other identifier"],
    ["date", "Date (to see changes over time)"],
    ["excluded", "Leave out"],
  ];

  /** What each kind of personal-data finding is, in plain words. */
  const FINDING_KINDS = {
    email: "e-mail addresses",
    phone: "telephone numbers",
    iban: "bank account numbers (IBAN)",
    date_of_birth: "dates of birth",
    address: "postal addresses",
    free_text: "free text that may mention people",
    quasi_identifiers: "a combination of columns that can single out a person (groups smaller than 5)",
  };

  const ACTIONS = [
    ["drop", "Remove the column"],
    ["pseudonymise", "Replace each value with a code (pseudonymise)"],
    ["coarsen", "Make it coarser (dates to the year, postcodes to the region)"],
    ["confirm", "Keep it as it is, with a reason"],
  ];

  const SEPARATORS = [[";", "Semicolon ( ; )"], [",", "Comma ( , )"], ["\t", "Tab"], ["|", "Vertical bar ( | )"]];
  const DECIMALS = [[",", "Comma (3,5)"], [".", "Point (3.5)"]];
  const ENCODINGS = [["utf-8", "UTF-8 (most recent systems)"], ["utf-8-sig", "UTF-8 with a byte-order mark (Excel)"],
    ["latin-1", "Latin-1 / Western European (older systems)"], ["cp1252", "Windows Western European"]];

  let current = null; // the open use case, as the API gave it
  let questionnaire = null; // the questions, loaded once

  const enc = encodeURIComponent;
  const ucPath = (id) => `usecases/${enc(id)}`;

  function findingKind(kind) {
    if (kind && kind.startsWith("national_id")) {
      const country = kind.split(":")[1];
      return `national identity numbers${country ? ` (${country.toUpperCase()})` : ""}`;
    }
    return FINDING_KINDS[kind] || kind;
  }

  function fieldsOf(uc) {
    return Object.assign({}, uc, uc.fields || {});
  }

  // -- uploads ---------------------------------------------------------------------------

  const maxUpload = Number(app.dataset.maxUpload) || 0;

  /** POST a file as the raw request body with a progress bar; resolve with the JSON answer. */
  function upload(path, file, progress, text) {
    if (maxUpload && file.size > maxUpload) {
      // Said before sending: the service would refuse it anyway, after a long wait.
      return Promise.reject(new ApiError(413,
        `The file is too large (${Math.ceil(file.size / 1e6)} MB): files up to ${Math.round(maxUpload / 1e6)} MB are accepted.`));
    }
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", apiBase + path);
      xhr.setRequestHeader("X-XSRFToken", xsrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.withCredentials = true;
      progress.hidden = false;
      progress.value = 0;
      text.textContent = "Uploading…";
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.round((event.loaded / event.total) * 100);
        progress.value = percent;
        text.textContent = `Uploading… ${percent}%`;
      });
      xhr.upload.addEventListener("load", () => {
        progress.value = 100;
        text.textContent = "Uploaded. Reading the file…";
      });
      xhr.addEventListener("load", () => {
        let payload = null;
        try {
          payload = JSON.parse(xhr.responseText);
        } catch (e) {
          payload = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          text.textContent = "Uploaded.";
          resolve(payload);
          return;
        }
        progress.hidden = true;
        text.textContent = "";
        let message = payload && payload.error ? payload.error : "";
        if (!message) {
          message = { 403: "You are not allowed to do this. Your session may have expired: reload the page.",
            413: "The file is too large." }[xhr.status] || `The upload failed (${xhr.status}).`;
        }
        reject(new ApiError(xhr.status, message));
      });
      xhr.addEventListener("error", () => {
        progress.hidden = true;
        text.textContent = "";
        reject(new ApiError(0, "The upload was interrupted. Nothing was kept: please try again."));
      });
      xhr.addEventListener("abort", () => {
        progress.hidden = true;
        text.textContent = "";
        reject(new ApiError(0, "The upload was stopped. Nothing was kept."));
      });
      xhr.send(file);
    });
  }

  /** GET a file of the API with the XSRF header and hand it to the browser as a download. */
  async function download(path, filename) {
    let response;
    try {
      response = await fetch(apiBase + path, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf } });
    } catch (e) {
      throw new ApiError(0, "The course service could not be reached. Check your connection and try again.");
    }
    if (!response.ok) {
      const payload = await response.json().catch(() => null);
      throw new ApiError(response.status, (payload && payload.error) || `The download failed (${response.status}).`);
    }
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  // -- list and registration -------------------------------------------------------------

  async function loadList() {
    await guarded(async () => {
      const list = await api("GET", "usecases");
      listNode.removeAttribute("aria-busy");
      if (!list.length) {
        listNode.replaceChildren(el("p", { class: "usecase-empty" },
          "There is no use case yet. Register one with the form below."));
        return;
      }
      listNode.replaceChildren(el("ul", { class: "list-group usecase-list" }, list.map((uc) => {
        const f = fieldsOf(uc);
        return el("li", { class: "list-group-item", "data-usecase": uc.id },
          el("a", { href: `${Course.base}usecases/${enc(uc.id)}`, class: "usecase-open fw-semibold" }, f.title || uc.id),
          el("span", { class: "text-body-secondary" },
            ` · team ${uc.team}`, f.administration ? ` · ${f.administration}` : "",
            f.ai_act_area ? ` · ${areaShort(f.ai_act_area)}` : ""));
      })));
    }, listNode);
  }

  function areaShort(area) {
    if (area === "not-high-risk") return "not high-risk";
    return `AI Act Annex III, area ${area.replace(/^(\d)([a-z])$/, "$1($2)")}`;
  }

  function setupRegister() {
    const form = document.getElementById("register-form");
    if (!form) return;
    const area = document.getElementById("uc-area");
    const reasonGroup = document.getElementById("uc-reason-group");
    const reason = document.getElementById("uc-reason");
    const result = document.getElementById("register-result");
    area.addEventListener("change", () => {
      const notHigh = area.value === "not-high-risk";
      reasonGroup.hidden = !notHigh;
      reason.required = notHigh;
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form).entries());
      for (const key of Object.keys(data)) data[key] = String(data[key]).trim();
      const missing = [...form.querySelectorAll("[required]")].filter((f) => !f.closest("[hidden]") && !String(f.value).trim());
      if (missing.length) {
        const names = missing.map((f) => form.querySelector(`label[for="${f.id}"]`).textContent.trim());
        result.replaceChildren(el("p", { class: "alert alert-warning", role: "alert" },
          `Please fill in: ${names.join("; ")}.`));
        missing[0].focus();
        return;
      }
      if (data.ai_act_area !== "not-high-risk") delete data.not_high_risk_reason;
      const button = document.getElementById("register-submit");
      busy(button, "Registering…", () => guarded(async () => {
        const uc = await api("POST", "usecases", data);
        result.replaceChildren(el("p", { class: "alert alert-success", role: "status" },
          `Registered "${fieldsOf(uc).title || uc.id}".`));
        form.reset();
        reasonGroup.hidden = true;
        history.pushState({ usecase: uc.id }, "", `${Course.base}usecases/${enc(uc.id)}`);
        await loadList();
        await openUseCase(uc.id);
        document.getElementById("usecase-view-title").focus();
      }, result));
    });
  }

  // -- one use case ----------------------------------------------------------------------

  async function openUseCase(id) {
    await guarded(async () => {
      const uc = await api("GET", ucPath(id));
      // Answers and comments, and the results' figures and tables (only asked for when a
      // notebook run has saved some: a refused request would be an error in the console).
      const [answers, results] = await Promise.all([
        api("GET", `${ucPath(id)}/answers`),
        uc.results && !uc.results.payload ? api("GET", `${ucPath(id)}/results`) : uc.results,
      ]);
      current = Object.assign(uc, { answers: answers.answers || {}, comments: answers.comments || {}, results });
      view.hidden = false;
      view.dataset.usecase = current.id || id;
      const details = document.getElementById("register-details");
      if (details) details.open = false;
      renderSummary();
      renderDatasets();
      renderModels();
      renderResults();
      await renderQuestionnaire();
    });
  }

  async function reload() {
    if (current) await openUseCase(current.id);
  }

  const FIELD_FORM = [
    ["title", "Short name of the use case", "input"],
    ["administration", "Administration", "input"],
    ["decision", "Which decision does the system support?", "textarea"],
    ["affected", "Who is affected by the decision?", "textarea"],
    ["legal_basis", "Legal basis", "textarea"],
  ];

  function renderSummary() {
    const f = fieldsOf(current);
    document.getElementById("usecase-view-title").textContent = f.title || current.id;
    const rows = [
      ["Administration", f.administration],
      ["Decision it supports", f.decision],
      ["Who is affected", f.affected],
      ["Legal basis", f.legal_basis],
      ["AI Act area", f.ai_act_area ? (AREAS.get(f.ai_act_area) || f.ai_act_area) : ""],
      ["Why not high-risk", f.ai_act_area === "not-high-risk" ? f.not_high_risk_reason : null],
      ["Team", current.team],
    ].filter(([, v]) => v !== null && v !== undefined);
    document.getElementById("usecase-summary").replaceChildren(
      el("dl", { class: "row usecase-fields" }, rows.flatMap(([k, v]) => [
        el("dt", { class: "col-sm-3" }, k), el("dd", { class: "col-sm-9" }, v || "–")])),
      current.version ? el("p", { class: "small text-body-secondary" }, `Version ${current.version}`,
        current.updated_at ? [", ", time(current.updated_at)] : "") : null,
      renderEditFields(f),
      renderVersions());
  }

  /** "Change the description": every field again; saving keeps the earlier version. */
  function renderEditFields(f) {
    const id = "edit-usecase";
    const inputs = FIELD_FORM.map(([key, text, tag]) => {
      const input = el(tag, { class: "form-control", id: `${id}-${key}`, name: key, rows: tag === "textarea" ? 2 : null });
      input.value = f[key] || "";
      return el("div", { class: "mb-2" }, el("label", { class: "form-label", for: `${id}-${key}` }, text), input);
    });
    const area = el("select", { class: "form-select", id: `${id}-area`, name: "ai_act_area" },
      [...AREAS].map(([value, text]) => el("option", { value, selected: value === f.ai_act_area }, text)));
    const reason = el("textarea", { class: "form-control", id: `${id}-reason`, name: "not_high_risk_reason", rows: 2 });
    reason.value = f.not_high_risk_reason || "";
    const reasonGroup = el("div", { class: "mb-2", hidden: f.ai_act_area !== "not-high-risk" },
      el("label", { class: "form-label", for: `${id}-reason` }, "Why is it not high-risk?"), reason);
    area.addEventListener("change", () => { reasonGroup.hidden = area.value !== "not-high-risk"; });
    const result = el("div", { "aria-live": "polite" });
    const button = el("button", { type: "submit", class: "btn btn-primary btn-sm" }, "Save as a new version");
    const form = el("form", { class: "mt-2", id },
      inputs, el("div", { class: "mb-2" }, el("label", { class: "form-label", for: `${id}-area` }, "Area of the EU AI Act (Annex III)"), area),
      reasonGroup, button, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form).entries());
      for (const key of Object.keys(data)) data[key] = String(data[key]).trim();
      if (data.ai_act_area !== "not-high-risk") delete data.not_high_risk_reason;
      busy(button, "Saving…", () => guarded(async () => {
        await api("PUT", ucPath(current.id), data);
        await reload();
        announce("The description is saved as a new version.", "success");
      }, result));
    });
    return el("details", { class: "mb-2 usecase-edit" }, el("summary", {}, "Change the description"), form);
  }

  /** Earlier versions of the description, loaded when opened. */
  function renderVersions() {
    const body = el("div", {}, el("p", { class: "text-body-secondary" }, "Loading…"));
    const details = el("details", { class: "mb-3 usecase-versions-of-fields" }, el("summary", {}, "Every version of the description"), body);
    details.addEventListener("toggle", () => {
      if (!details.open || details.dataset.loaded) return;
      details.dataset.loaded = "yes";
      guarded(async () => {
        const versions = await api("GET", `${ucPath(current.id)}/versions`);
        body.replaceChildren(el("ol", { reversed: true }, [...versions].reverse().map((v) => el("li", {},
          el("p", { class: "mb-0" }, `Version ${v.version} by ${v.author || "?"}`, v.created_at ? [", ", time(v.created_at)] : ""),
          el("p", { class: "small text-body-secondary" },
            FIELD_FORM.map(([key, text]) => `${text.replace(/\?$/, "")}: ${(v.fields || {})[key] || "–"}`).join(" · "))))));
      }, body);
    });
    return details;
  }

  // -- the table -------------------------------------------------------------------------

  /** The dataset's state whatever its shape (snapshot entry or Intake.state()). */
  function datasetState(ds) {
    const st = Object.assign({}, ds, ds.state || {});
    const detected = st.detected || (st.format && typeof st.format === "object" ? st.format : null) || null;
    const roles = st.roles && Object.keys(st.roles).length ? st.roles : null;
    const findings = Array.isArray(st.findings) ? st.findings : null;
    const status = st.status || "";
    const confirmed = Boolean(st.confirmed) || Boolean(roles) || Boolean(findings) ||
      ["confirmed", "roles", "scanned", "blocked", "finished", "ready"].includes(status);
    const open = findings ? findings.filter((f) => f.blocking !== false && !f.resolution) : [];
    const finished = Boolean(st.finished) || ["finished", "ready"].includes(status) ||
      (Boolean(roles) && Boolean(findings) && open.length === 0);
    return { name: st.name || ds.name, detected, roles, findings, open, confirmed, finished, status };
  }

  function renderDatasets() {
    const node = document.getElementById("datasets");
    const datasets = current.datasets || [];
    node.replaceChildren(...datasets.map((ds) => renderDataset(datasetState(ds))));
  }

  function renderDataset(st) {
    const id = `dataset-${st.name}`;
    const section = el("section", { class: "usecase-dataset mt-4", id, "data-dataset": st.name, "aria-labelledby": `${id}-title` },
      el("h4", { id: `${id}-title`, class: "h5" }, `Table "${st.name}"`));
    // Steps already done fold away (still there to correct): the page stays short.
    const folded = (title, node) => el("details", { class: "mt-2 usecase-done" }, el("summary", {}, title), node);
    if (st.detected) {
      section.append(st.confirmed ? folded("✔ Format confirmed (show or correct it)", renderFormat(st)) : renderFormat(st));
    }
    if (st.confirmed && st.detected) {
      section.append(st.findings ? folded("✔ Column roles saved (show or change them)", renderRoles(st)) : renderRoles(st));
    }
    if (st.findings) section.append(renderFindings(st));
    const sheet = el("div", { class: "usecase-datasheet" });
    section.append(sheet);
    if (st.finished) loadDatasheet(st.name, sheet);
    return section;
  }

  function selectField(id, label, options, value) {
    const select = el("select", { class: "form-select", id },
      options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
    if (value && !options.some(([v]) => v === value)) select.append(el("option", { value, selected: true }, value));
    return el("div", { class: "col-md-4" }, el("label", { class: "form-label", for: id }, label), select);
  }

  function renderFormat(st) {
    const d = st.detected;
    const id = `format-${st.name}`;
    const columns = d.columns || [];
    const names = columns.map((c) => (typeof c === "string" ? c : c.name));
    const preview = d.preview || [];
    const form = el("form", { class: "usecase-format", id });
    const kind = (d.format || "csv").toLowerCase();
    const facts = [
      `${kind === "csv" ? "A CSV file" : kind === "xlsx" ? "An Excel file" : kind === "parquet" ? "A Parquet file" : kind}`,
      d.rows !== undefined ? ` with ${d.rows} rows` : "",
      names.length ? ` and ${names.length} columns` : "", ".",
    ].join("");
    form.append(
      el("h5", { class: "h6" }, "What we read in your file"),
      el("p", { class: "usecase-detected" }, facts,
        kind === "csv" ? " Check that the values below are split into the right columns and that letters such as é, ü or ł look right." : ""),
    );
    if (kind === "csv") {
      form.append(el("div", { class: "row g-2 mb-2" },
        selectField(`${id}-separator`, "Between values", SEPARATORS, d.separator),
        selectField(`${id}-decimal`, "Decimal mark", DECIMALS, d.decimal),
        selectField(`${id}-encoding`, "Character set", ENCODINGS, (d.encoding || "").toLowerCase())));
    }
    if (names.length && preview.length) {
      form.append(el("div", { class: "table-responsive usecase-preview" }, el("table", { class: "table table-sm table-bordered" },
        el("caption", {}, "The first rows of your table"),
        el("thead", {}, el("tr", {}, names.map((n) => el("th", { scope: "col" }, n)))),
        el("tbody", {}, preview.slice(0, 5).map((row) => el("tr", {},
          (Array.isArray(row) ? row : names.map((n) => row[n])).map((v) => el("td", {}, v === null || v === undefined ? "" : String(v)))))))));
    }
    const result = el("div", { "aria-live": "polite" });
    const button = el("button", { type: "submit", class: `btn ${st.confirmed ? "btn-outline-primary" : "btn-primary"} usecase-format-confirm` },
      st.confirmed ? "Read the file again with these settings" : "Yes, this is right");
    form.append(button, st.confirmed ? el("span", { class: "ms-2 text-success usecase-format-ok" }, "✔ Confirmed") : null, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {};
      if (kind === "csv") {
        body.separator = form.querySelector(`#${CSS.escape(id)}-separator`).value;
        body.decimal = form.querySelector(`#${CSS.escape(id)}-decimal`).value;
        body.encoding = form.querySelector(`#${CSS.escape(id)}-encoding`).value;
      }
      busy(button, "Reading…", () => guarded(async () => {
        await api("PUT", `${ucPath(current.id)}/datasets/${enc(st.name)}/format`, body);
        await reload();
      }, result));
    });
    return form;
  }

  function roleOf(value) {
    if (!value) return { role: "", kind: "" };
    if (typeof value === "string") return { role: value, kind: "" };
    return { role: value.role || "", kind: value.kind || "" };
  }

  function renderRoles(st) {
    const id = `roles-${st.name}`;
    const names = (st.detected.columns || []).map((c) => (typeof c === "string" ? c : c.name));
    const rows = names.map((name, i) => {
      const { role, kind } = roleOf(st.roles && st.roles[name]);
      const roleId = `${id}-role-${i}`;
      const kindId = `${id}-kind-${i}`;
      const roleSelect = el("select", { class: "form-select form-select-sm usecase-role", id: roleId, "data-column": name },
        el("option", { value: "" }, "Choose…"),
        ROLES.map(([v, text]) => el("option", { value: v, selected: v === role }, text)));
      const kindSelect = el("select", { class: "form-select form-select-sm usecase-kind", id: kindId, "data-column": name },
        KINDS.map(([v, text]) => el("option", { value: v, selected: v === kind }, text)));
      const kindCell = el("td", {}, el("label", { class: "visually-hidden", for: kindId }, `Which characteristic is "${name}"?`), kindSelect);
      const sync = () => {
        kindSelect.hidden = kindSelect.disabled = roleSelect.value !== "protected";
      };
      roleSelect.addEventListener("change", sync);
      sync();
      return el("tr", { "data-column": name },
        el("th", { scope: "row" }, el("label", { for: roleId }, name)),
        el("td", {}, roleSelect), kindCell);
    });
    const result = el("div", { "aria-live": "polite" });
    const button = el("button", { type: "submit", class: "btn btn-primary usecase-roles-save" },
      st.roles ? "Save the roles and check again for personal data" : "Save the roles and check for personal data");
    const form = el("form", { class: "usecase-roles mt-3", id },
      el("h5", { class: "h6" }, "What each column means"),
      el("p", {}, "Tell the sandbox what each column is. Mark one column as the outcome. Mark the characteristics ",
        "that the law protects against discrimination (sex, age, nationality, disability…), even if the ",
        "decision does not use them: they are needed to check whether groups are treated alike."),
      el("table", { class: "table table-sm align-middle" },
        el("caption", { class: "visually-hidden" }, "Columns of your table and their roles"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Column"), el("th", { scope: "col" }, "Role"),
          el("th", { scope: "col" }, "Which characteristic (for protected ones)"))),
        el("tbody", {}, rows)),
      button, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const roles = {};
      const missing = [];
      for (const select of form.querySelectorAll("select.usecase-role")) {
        const column = select.dataset.column;
        if (!select.value) { missing.push(column); continue; }
        if (select.value === "protected") {
          const kind = form.querySelector(`select.usecase-kind[data-column="${CSS.escape(column)}"]`).value;
          roles[column] = { role: "protected", kind };
        } else {
          roles[column] = select.value;
        }
      }
      if (missing.length) {
        result.replaceChildren(el("p", { class: "alert alert-warning", role: "alert" },
          `Choose a role for every column (choose "Leave out" if it is not needed): ${missing.join(", ")}.`));
        return;
      }
      busy(button, "Checking the table for personal data…", () => guarded(async () => {
        await api("PUT", `${ucPath(current.id)}/datasets/${enc(st.name)}/roles`, { roles });
        await reload();
      }, result));
    });
    return form;
  }

  function describeResolution(r) {
    const action = r.action || r;
    const words = { drop: "Removed", pseudonymise: "Replaced by codes", coarsen: "Made coarser", confirm: "Kept" }[action] || action;
    return `${words}${r.reason ? ` (reason: ${r.reason})` : ""}${r.author ? ` by ${r.author}` : ""}`;
  }

  function renderFindings(st) {
    const wrap = el("div", { class: "usecase-findings mt-3", "aria-live": "polite" },
      el("h5", { class: "h6" }, "Personal data"));
    if (!st.findings.length) {
      wrap.append(el("p", { class: "alert alert-success usecase-no-findings" },
        "No personal data was found in the table."));
      return wrap;
    }
    if (st.open.length) {
      wrap.append(el("p", { class: "alert alert-warning usecase-blocked", role: "alert" },
        `Your table cannot be used yet: ${st.open.length} ${st.open.length === 1 ? "finding needs" : "findings need"} a decision. `,
        "For each one, choose what to do with the column."));
    } else {
      wrap.append(el("p", { class: "alert alert-success usecase-unblocked" },
        "Every finding has been dealt with. The table can now be used."));
    }
    st.findings.forEach((f, i) => wrap.append(renderFinding(st, f, i)));
    return wrap;
  }

  function renderFinding(st, f, i) {
    const id = `finding-${st.name}-${i}`;
    const share = f.share !== undefined && f.share !== null ? ` (${Math.round(f.share * 1000) / 10}% of the rows)` : "";
    const box = el("div", { class: `card mb-2 usecase-finding${f.resolution ? " usecase-resolved" : ""}`, "data-column": f.column, "data-kind": f.kind },
      el("div", { class: "card-body" },
        el("p", { class: "mb-1" }, el("strong", {}, `Column "${f.column}"`), `: ${findingKind(f.kind)}`,
          f.count !== undefined ? `, found in ${f.count} rows${share}` : "", "."),
        (f.examples || []).length ? el("p", { class: "small text-body-secondary" }, "Examples (partly hidden): ",
          (f.examples || []).flatMap((x, j) => [j ? ", " : "", el("code", {}, String(x))])) : null));
    const body = box.firstChild;
    if (f.resolution) {
      body.append(el("p", { class: "text-success mb-0 usecase-resolution" }, `✔ ${describeResolution(f.resolution)}`));
      return box;
    }
    const result = el("div", { "aria-live": "polite" });
    const reasonId = `${id}-reason`;
    const reason = el("textarea", { class: "form-control usecase-reason", id: reasonId, rows: 2 });
    const reasonGroup = el("div", { class: "mb-2", hidden: true },
      el("label", { class: "form-label", for: reasonId }, "Why must this column stay as it is? (written into the datasheet)"), reason);
    const radios = ACTIONS.map(([value, text]) => {
      const rid = `${id}-${value}`;
      const input = el("input", { class: "form-check-input", type: "radio", name: id, id: rid, value });
      input.addEventListener("change", () => { reasonGroup.hidden = value !== "confirm"; });
      return el("div", { class: "form-check" }, input, el("label", { class: "form-check-label", for: rid }, text));
    });
    const button = el("button", { type: "submit", class: "btn btn-primary btn-sm usecase-resolve" }, "Apply");
    const form = el("form", { class: "usecase-resolve-form" },
      el("fieldset", {}, el("legend", { class: "h6" }, `What should happen to "${f.column}"?`), radios),
      reasonGroup, button, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = form.querySelector(`input[name="${CSS.escape(id)}"]:checked`);
      if (!chosen) {
        result.replaceChildren(el("p", { class: "alert alert-warning", role: "alert" }, "Choose one of the four options first."));
        return;
      }
      const data = { column: f.column, action: chosen.value };
      if (chosen.value === "confirm") {
        data.reason = reason.value.trim();
        if (!data.reason) {
          result.replaceChildren(el("p", { class: "alert alert-warning", role: "alert" }, "Write the reason for keeping the column."));
          reason.focus();
          return;
        }
      }
      busy(button, "Applying…", () => guarded(async () => {
        await api("POST", `${ucPath(current.id)}/datasets/${enc(st.name)}/resolve`, data);
        await reload();
      }, result));
    });
    body.append(form);
    return box;
  }

  // -- datasheet -------------------------------------------------------------------------

  const LABELS = {
    title: "Title", decision: "Decision", description: "Description", meaning: "What it means",
    missing_values: "Missing values", caveats: "Cautions (one per line)", datasheet: "Datasheet",
    motivation: "Why the data was collected", composition: "What the data contains",
    collection: "How the data was collected", preprocessing: "How the data was cleaned or changed",
    uses: "What the data may and may not be used for", distribution: "Who may receive the data",
    maintenance: "Who keeps the data up to date", personal_data: "Personal data",
    personal_data_removed: "Personal data removed", profile: "Profile of the table",
    missingness: "Missing values per column", base_rates: "Outcome rate per group",
    small_groups: "Small groups", columns: "Columns", target: "Outcome", protected: "Protected characteristics",
    shape: "Size", rows: "Rows", domain: "Field", licence: "Licence", source: "Source",
    id: "Short name", kind: "Kind", sha256: "Fingerprint (SHA-256)", received_at: "Received",
    filename: "File name", encoding: "Character set", separator: "Between values", decimal: "Decimal mark",
    stated_by: "Stated by", training_use: "May it be used to train models?", dtype: "Type",
    statistics: "Figures per column", k: "Smallest group size allowed", findings: "Findings",
  };

  /** Which texts of the datasheet the team writes; the rest is drawn from the data. */
  function editable(path) {
    const [top, second] = path;
    const last = path[path.length - 1];
    if (["title", "domain", "decision", "missing_values", "caveats", "datasheet", "licence"].includes(top)) return true;
    if (top === "target") return second === "meaning";
    if (top === "columns") return last === "description";
    return false;
  }

  function label(key) {
    if (LABELS[key]) return LABELS[key];
    const text = String(key).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  async function loadDatasheet(name, node) {
    await guarded(async () => {
      const sheet = await api("GET", `${ucPath(current.id)}/datasets/${enc(name)}/datasheet`);
      // {name, datasheet: card, edited}: the card with the team's edits over the draft.
      const card = sheet && typeof sheet.edited === "boolean" && sheet.datasheet ? sheet.datasheet : sheet;
      node.replaceChildren(renderDatasheet(name, card));
    }, node);
  }

  /** A form with every text of the datasheet editable; figures shown as they are. */
  function renderDatasheet(name, sheet) {
    const id = `datasheet-${name}`;
    let counter = 0;
    const fields = []; // [path, input, kind]

    function block(value, path, depth) {
      const key = path[path.length - 1];
      const fid = `${id}-${counter++}`;
      if (typeof value === "string" && editable(path)) {
        const long = value.length > 60 || ["motivation", "composition", "collection", "preprocessing", "uses",
          "distribution", "maintenance", "missing_values", "description", "meaning"].includes(key);
        const input = long ? el("textarea", { class: "form-control", id: fid, rows: 3 }) : el("input", { class: "form-control", id: fid });
        input.value = value;
        fields.push([path, input, "string"]);
        return el("div", { class: "mb-2" }, el("label", { class: "form-label", for: fid }, label(key)), input);
      }
      if (Array.isArray(value) && value.every((v) => typeof v === "string") && editable(path)) {
        const input = el("textarea", { class: "form-control", id: fid, rows: Math.max(2, value.length + 1) });
        input.value = value.join("\n");
        fields.push([path, input, "lines"]);
        return el("div", { class: "mb-2" }, el("label", { class: "form-label", for: fid }, label(key)), input,
          el("div", { class: "form-text" }, "One item per line."));
      }
      if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
        const cols = [...new Set(value.flatMap((v) => Object.keys(v)))];
        return el("div", { class: "mb-2 table-responsive" }, el("table", { class: "table table-sm" },
          el("caption", {}, label(key)),
          el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col" }, label(c))))),
          el("tbody", {}, value.map((row, r) => el("tr", {}, cols.map((c) => el("td", {},
            typeof row[c] === "string" && c === "description" ? block(row[c], [...path, r, c], depth + 1) : plain(row[c]))))))));
      }
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const h = el(depth === 0 ? "h6" : "p", { class: depth === 0 ? "mt-3" : "fw-semibold mb-1" }, label(key));
        return el("div", { class: depth === 0 ? "usecase-datasheet-section" : "ms-3" }, h,
          Object.entries(value).map(([k, v]) => block(v, [...path, k], depth + 1)));
      }
      return el("p", { class: "mb-1" }, el("span", { class: "fw-semibold" }, `${label(key)}: `), plain(value));
    }

    const form = el("form", { class: "usecase-datasheet-form mt-3", id },
      el("h5", { class: "h6" }, "Datasheet"),
      el("p", {}, "A first draft of the datasheet, written from your table and your answers above. Complete and ",
        "correct the texts: the datasheet goes into the dossier. The figures come from the table and cannot be changed."),
      Object.entries(sheet).map(([k, v]) => block(v, [k], 0)));
    const result = el("div", { "aria-live": "polite" });
    const button = el("button", { type: "submit", class: "btn btn-primary usecase-datasheet-save" }, "Save the datasheet");
    form.append(button, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const edited = structuredClone(sheet);
      for (const [path, input, kind] of fields) {
        let target = edited;
        for (const part of path.slice(0, -1)) target = target[part];
        target[path[path.length - 1]] = kind === "lines"
          ? input.value.split("\n").map((s) => s.trim()).filter(Boolean) : input.value;
      }
      busy(button, "Saving…", () => guarded(async () => {
        await api("PUT", `${ucPath(current.id)}/datasets/${enc(name)}/datasheet`, { datasheet: edited });
        result.replaceChildren(el("p", { class: "alert alert-success", role: "status" }, "The datasheet is saved."));
      }, result));
    });
    return form;
  }

  function plain(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") return String(Math.round(value * 1000) / 1000);
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (Array.isArray(value) && !value.length) return "none";
    if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ");
    if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${label(k)}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
    return String(value);
  }

  // -- model -----------------------------------------------------------------------------

  function renderModels() {
    const node = document.getElementById("models");
    const models = current.models || [];
    node.replaceChildren(...models.map((m) => {
      const kind = { skops: "scikit-learn model (skops)", onnx: "ONNX model", scores: "your system's scores", baseline: "simple model built from your table" }[m.kind] || m.kind;
      const untrusted = m.untrusted_types || [];
      const item = el("div", { class: "card mt-2 usecase-model", "data-model": m.name },
        el("div", { class: "card-body" },
          el("p", { class: "mb-1" }, el("strong", {}, m.name), `: ${kind}.`),
          untrusted.length ? el("div", {},
            m.approved_by
              ? el("p", { class: "text-success" }, `✔ Approved by ${m.approved_by}.`)
              : el("p", { class: "alert alert-warning" }, "This model contains parts the sandbox does not know. ",
                "A trainer must look at them and approve the model before it can be used: ",
                untrusted.flatMap((t, j) => [j ? ", " : "", el("code", {}, t)]), "."),
          ) : null));
      if (untrusted.length && !m.approved_by && instructor) {
        const result = el("div", { "aria-live": "polite" });
        const button = el("button", { type: "button", class: "btn btn-outline-danger btn-sm usecase-model-approve" },
          "Approve these types (instructor)");
        button.addEventListener("click", () => busy(button, "Approving…", () => guarded(async () => {
          await api("POST", `${ucPath(current.id)}/models/${enc(m.name)}/approve`);
          await reload();
        }, result)));
        item.firstChild.append(button, result);
      }
      return item;
    }));
  }

  function setupModelForm() {
    const form = document.getElementById("model-form");
    const progress = document.getElementById("model-progress");
    const text = document.getElementById("model-progress-text");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const file = document.getElementById("model-file").files[0];
      const name = document.getElementById("model-name").value.trim();
      const target = document.getElementById("model-result");
      if (!file || !name) {
        announce("Choose a model file and give it a name first.", "warning");
        return;
      }
      const button = document.getElementById("model-upload");
      target.replaceChildren();
      busy(button, "Uploading…", () => guarded(async () => {
        await upload(`${ucPath(current.id)}/models/${enc(name)}?filename=${enc(file.name)}`, file, progress, text);
        await reload();
      }, target));
    });
  }

  function setupDatasetForm() {
    const form = document.getElementById("dataset-form");
    const progress = document.getElementById("dataset-progress");
    const text = document.getElementById("dataset-progress-text");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const file = document.getElementById("dataset-file").files[0];
      const name = document.getElementById("dataset-name").value.trim();
      if (!file || !name) {
        announce("Choose a file and give the table a name first.", "warning");
        return;
      }
      const button = document.getElementById("dataset-upload");
      const target = document.getElementById("dataset-result");
      target.replaceChildren();
      busy(button, "Uploading…", () => guarded(async () => {
        await upload(`${ucPath(current.id)}/datasets/${enc(name)}?filename=${enc(file.name)}`, file, progress, text);
        await reload();
      }, target));
    });
  }

  function setupWorkspaceForm() {
    const form = document.getElementById("workspace-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = document.getElementById("workspace-name").value.trim();
      const path = document.getElementById("workspace-path").value.trim().replace(/^\/+/, "");
      if (!name || !path) {
        announce("Give the table a name and say where the file is.", "warning");
        return;
      }
      const button = document.getElementById("workspace-take");
      const target = document.getElementById("dataset-result");
      target.replaceChildren();
      busy(button, "Taking the file…", () => guarded(async () => {
        await api("POST", `${ucPath(current.id)}/datasets/${enc(name)}/from-workspace`, { path });
        await reload();
      }, target));
    });
  }

  // -- assessment and results ------------------------------------------------------------

  function workspaceUrl(path) {
    const root = Course.hub.replace(/hub\/$/, "");
    const parts = String(path).split("/").map(enc);
    return `${root}user/${enc(`team-${current.team}`)}/lab/tree/${parts.join("/")}`;
  }

  function showNotebook(info) {
    let url = info.url;
    if (!url && info.server_url) {
      const root = Course.hub.replace(/hub\/$/, "");
      const server = info.server_url.replace(/^\//, "").replace(/\/?$/, "/");
      url = `${root}${server}lab/tree/${String(info.path).split("/").map(enc).join("/")}`;
    }
    if (!url) url = workspaceUrl(info.path);
    document.getElementById("notebook-result").replaceChildren(
      el("p", { class: "alert alert-success usecase-notebook", role: "status" },
        `The notebook "${info.path}" is in your team's workspace. `,
        el("a", { href: url, target: "_blank", rel: "noopener", class: "usecase-notebook-link" },
          "Open it in the team workspace", el("span", { class: "visually-hidden" }, " (opens in a new tab)")),
        ". Run it from top to bottom (menu Run, then Run All Cells); at the end it sends its results here."));
  }

  function setupNotebook() {
    const button = document.getElementById("notebook-generate");
    const target = document.getElementById("notebook-result");
    button.addEventListener("click", () => busy(button, "Writing the notebook…", () => guarded(async () => {
      target.replaceChildren(el("p", { class: "text-body-secondary" }, "Writing the notebook into your team's workspace…"));
      const info = await api("POST", `${ucPath(current.id)}/notebook`);
      showNotebook(info);
    }, target)));
  }

  /** Figures and tables of the results payload, by the ids answers cite ("<step>.<name>").
   *
   * The payload is `ai4scale.assess.to_payload`'s: `items` of kind figure (`png_base64`) or
   * table (`columns`, `records`), each with a caption; `steps` with their plain-word notes.
   * Each value here is `{caption, png}` or `{caption, columns, records}`. */
  function resultItems() {
    const figures = new Map();
    const tables = new Map();
    const notes = [];
    const results = current && current.results;
    const payload = results && results.payload;
    if (!payload || typeof payload !== "object") return { figures, tables, notes };
    for (const item of Array.isArray(payload.items) ? payload.items : []) {
      if (!item || !item.id) continue;
      if (item.kind === "figure") figures.set(item.id, { caption: item.caption || "", png: item.png_base64 || "" });
      else tables.set(item.id, { caption: item.caption || "", columns: item.columns, records: item.records || [] });
    }
    // Older shapes: {figures: {id: base64}, tables: {id: records}}.
    for (const [id, png] of Object.entries(payload.figures || {})) figures.set(id, { caption: "", png: String(png) });
    for (const [id, records] of Object.entries(payload.tables || {})) tables.set(id, { caption: "", records });
    for (const step of Array.isArray(payload.steps) ? payload.steps : []) {
      for (const n of step.notes || []) notes.push(n);
    }
    return { figures, tables, notes };
  }

  function figureNode(id, figure) {
    const src = figure.png.startsWith("data:") ? figure.png : `data:image/png;base64,${figure.png}`;
    return el("figure", { class: "figure usecase-figure d-block", "data-result": id },
      el("img", { src, class: "figure-img img-fluid", alt: figure.caption || `Figure ${id} of the assessment` }),
      el("figcaption", { class: "figure-caption" }, el("code", {}, id), figure.caption ? ` ${figure.caption}` : ""));
  }

  function tableNode(id, table) {
    const rows = Array.isArray(table.records) ? table.records : [];
    const cols = table.columns || [...new Set(rows.flatMap((r) => Object.keys(r || {})))];
    return el("div", { class: "table-responsive usecase-result-table", "data-result": id },
      el("table", { class: "table table-sm" },
        el("caption", {}, el("code", {}, id), table.caption ? ` ${table.caption}` : ""),
        el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col" }, c)))),
        el("tbody", {}, rows.slice(0, 30).map((r) => el("tr", {}, cols.map((c) => el("td", {}, plain(r[c]))))))),
      rows.length > 30 ? el("p", { class: "small text-body-secondary" }, `The first 30 of ${rows.length} rows.`) : null);
  }

  function renderResults() {
    const node = document.getElementById("results");
    const results = current.results;
    if (!results) {
      node.replaceChildren(el("p", { class: "alert alert-info usecase-no-results" },
        "There are no results yet: the assessment notebook has not been run to the end. ",
        "Generate it, open it in your team's workspace and run all its cells; then reload this page."));
      return;
    }
    const { figures, tables, notes } = resultItems();
    node.replaceChildren(
      el("p", { class: "usecase-results-meta" }, "Results of the notebook run",
        results.author ? ` by ${results.author}` : "", results.created_at ? [", ", time(results.created_at)] : "",
        results.notebook_sha256 ? [". Notebook fingerprint (SHA-256): ", el("code", { class: "course-sha" }, results.notebook_sha256)] : "", "."),
      notes.length ? el("ul", { class: "usecase-notes" }, notes.map((n) => el("li", {}, n))) : null,
      el("details", { class: "usecase-all-results" },
        el("summary", {}, `Show all ${figures.size} figures and ${tables.size} tables`),
        [...figures].map(([id, d]) => figureNode(id, d)),
        [...tables].map(([id, t]) => tableNode(id, t))));
  }

  // -- questionnaire ---------------------------------------------------------------------

  function citedNode(id) {
    const { figures, tables } = resultItems();
    if (figures.has(id)) return figureNode(id, figures.get(id));
    if (tables.has(id)) return tableNode(id, tables.get(id));
    return el("p", { class: "small text-body-secondary usecase-cite-missing", "data-result": id },
      `Cited result "${id}" is not available yet: it appears once the assessment notebook has been run.`);
  }

  function answersOf(qid) {
    const list = (current.answers && current.answers[qid]) || [];
    return [...list].sort((a, b) => String(a.created_at || "").localeCompare(String(b.created_at || "")));
  }

  function renderQuestion(q) {
    const qid = q.id;
    const id = `question-${qid}`.replace(/[^A-Za-z0-9_-]/g, "-");
    const versions = answersOf(qid);
    const latest = versions[versions.length - 1];
    const { figures, tables } = resultItems();
    // Results of the steps the question names as evidence first, marked "suggested".
    const evidence = new Set(q.evidence || []);
    const suggested = (rid) => evidence.has(String(rid).split(".")[0]);
    const ids = [...figures.keys(), ...tables.keys()].sort((a, b) => Number(suggested(b)) - Number(suggested(a)));
    const cites = new Set((latest && latest.cites) || []);
    const textId = `${id}-text`;
    const text = el("textarea", { class: "form-control usecase-answer", id: textId, rows: 4 });
    text.value = latest ? latest.text : "";
    const citeBoxes = ids.map((rid, i) => {
      const cid = `${id}-cite-${i}`;
      return el("div", { class: "form-check form-check-inline" },
        el("input", { class: "form-check-input usecase-cite", type: "checkbox", id: cid, value: rid, checked: cites.has(rid),
          "data-kind": figures.has(rid) ? "figure" : "table" }),
        el("label", { class: "form-check-label", for: cid }, `${figures.has(rid) ? "Figure" : "Table"} ${rid}`,
          (figures.get(rid) || tables.get(rid)).caption ? `: ${(figures.get(rid) || tables.get(rid)).caption}` : "",
          suggested(rid) ? el("span", { class: "badge text-bg-info ms-1" }, "suggested") : null));
    });
    // The suggested and the cited ones in view; the others one click away.
    const inView = ids.map((rid, i) => suggested(rid) || cites.has(rid));
    const shown = citeBoxes.filter((_, i) => inView[i]);
    const more = citeBoxes.filter((_, i) => !inView[i]);
    const result = el("div", { "aria-live": "polite" });
    const save = el("button", { type: "submit", class: "btn btn-primary btn-sm usecase-answer-save" }, "Save the answer");
    const form = el("form", { class: "usecase-answer-form" },
      el("label", { class: "form-label", for: textId }, "Your team's answer"), text,
      el("fieldset", { class: "mt-2" }, el("legend", { class: "form-label fs-6" }, "Cite results of the assessment"),
        citeBoxes.length ? shown : el("p", { class: "small text-body-secondary usecase-no-results" },
          "There are no results to cite yet: the assessment notebook has not been run to the end. ",
          "Run it in your team's workspace, then reload this page."),
        more.length ? el("details", { class: "usecase-more-results" },
          el("summary", {}, shown.length ? `More results (${more.length})` : `Choose among the ${more.length} results`), more) : null),
      el("div", { class: "mt-2" }, save), result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = [...form.querySelectorAll("input.usecase-cite:checked")].map((i) => i.value);
      const body = { text: text.value.trim(), cites: chosen };
      if (!body.text) {
        result.replaceChildren(el("p", { class: "alert alert-warning", role: "alert" }, "Write an answer first."));
        return;
      }
      busy(save, "Saving…", () => guarded(async () => {
        await api("PUT", `${ucPath(current.id)}/answers/${enc(qid)}`, body);
        await reload();
        const again = document.getElementById(id);
        if (again) again.querySelector(".usecase-answer-status").replaceChildren(
          el("p", { class: "alert alert-success", role: "status" }, "Your answer is saved."));
      }, result));
    });

    const comments = (current.comments && current.comments[qid]) || [];
    const commentNodes = comments.map((c) => el("div", { class: "border-start border-3 ps-2 mb-2 usecase-comment" },
      el("p", { class: "mb-0" }, c.text), el("p", { class: "small text-body-secondary" }, "Trainer ", c.author || "", c.created_at ? [", ", time(c.created_at)] : "")));
    let commentForm = null;
    if (instructor) {
      const cid = `${id}-comment`;
      const input = el("textarea", { class: "form-control usecase-comment-text", id: cid, rows: 2 });
      const cresult = el("div", { "aria-live": "polite" });
      const cbutton = el("button", { type: "submit", class: "btn btn-outline-secondary btn-sm mt-1 usecase-comment-save" }, "Add comment");
      commentForm = el("form", { class: "usecase-comment-form mt-2" },
        el("label", { class: "form-label", for: cid }, "Your comment as a trainer"), input, cbutton, cresult);
      commentForm.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!input.value.trim()) return;
        busy(cbutton, "Saving…", () => guarded(async () => {
          await api("POST", `${ucPath(current.id)}/comments/${enc(qid)}`, { text: input.value.trim() });
          await reload();
        }, cresult));
      });
    }

    const refs = [].concat(q.references || q.articles || []).join("; ");
    return el("section", { class: "card mb-3 usecase-question", id, "data-question": qid, "aria-labelledby": `${id}-title` },
      el("div", { class: "card-body" },
        el("h5", { class: "h6", id: `${id}-title` }, q.text || qid),
        refs ? el("p", { class: "small text-body-secondary mb-1" }, refs) : null,
        q.guidance ? el("details", { class: "mb-2" }, el("summary", {}, "Help with this question"), el("p", { class: "mb-0" }, q.guidance)) : null,
        latest ? el("div", { class: "usecase-current-answer mb-2" },
          el("p", { class: "small text-body-secondary mb-1" }, "Latest answer by ", latest.author || "?", latest.created_at ? [", ", time(latest.created_at)] : ""),
          (latest.cites || []).length ? el("div", { class: "usecase-cited" }, (latest.cites || []).map(citedNode)) : null) : null,
        form,
        el("div", { class: "usecase-answer-status", "aria-live": "polite" }),
        versions.length > 1 ? el("details", { class: "mt-2 usecase-versions" },
          el("summary", {}, `Earlier versions (${versions.length - 1})`),
          el("ol", {}, versions.slice(0, -1).reverse().map((v) => el("li", {},
            el("p", { class: "small text-body-secondary mb-0" }, v.author || "?", v.created_at ? [", ", time(v.created_at)] : ""),
            el("p", { class: "usecase-version-text" }, v.text),
            (v.cites || []).length ? el("p", { class: "small" }, `Cited: ${v.cites.join(", ")}`) : null)))) : null,
        commentNodes.length || commentForm ? el("div", { class: "mt-2 usecase-comments" },
          el("p", { class: "fw-semibold mb-1" }, "Trainers' comments"),
          commentNodes.length ? commentNodes : el("p", { class: "small text-body-secondary" }, "No comment yet."), commentForm) : null));
  }

  async function renderQuestionnaire() {
    const node = document.getElementById("questionnaire");
    // Keep the typed-in but unsaved answers when the page is refreshed after an action.
    const unsaved = new Map();
    for (const q of node.querySelectorAll(".usecase-question")) {
      const t = q.querySelector("textarea.usecase-answer");
      if (t && t.value !== t.defaultValue) unsaved.set(q.dataset.question, t.value);
    }
    await guarded(async () => {
      if (!questionnaire) questionnaire = await api("GET", "usecases/questionnaire");
      const questions = Array.isArray(questionnaire) ? questionnaire : questionnaire.questions || [];
      const phases = new Map();
      for (const p of questionnaire.phases || []) phases.set(p.id || p, p.title || p.name || p.id || p);
      const groups = new Map();
      for (const q of questions) {
        const phase = q.phase || "other";
        if (!groups.has(phase)) groups.set(phase, []);
        groups.get(phase).push(q);
      }
      node.removeAttribute("aria-busy");
      node.replaceChildren(...[...groups].map(([phase, qs]) => el("section", { class: "usecase-phase mb-3", "data-phase": phase },
        el("h4", { class: "h5" }, `Phase: ${phases.get(phase) || label(phase)}`), qs.map(renderQuestion))));
      for (const [qid, value] of unsaved) {
        const t = node.querySelector(`.usecase-question[data-question="${CSS.escape(qid)}"] textarea.usecase-answer`);
        if (t) t.value = value;
      }
    }, node);
  }

  // -- dossier ---------------------------------------------------------------------------

  function setupDossier() {
    const target = document.getElementById("dossier-result");
    for (const [buttonId, file] of [["download-report", "report.html"], ["download-export", "export.zip"]]) {
      const button = document.getElementById(buttonId);
      button.addEventListener("click", () => busy(button, "Preparing the dossier…", () => guarded(async () => {
        target.replaceChildren(el("p", { class: "text-body-secondary" }, "Preparing the dossier…"));
        await download(`${ucPath(current.id)}/${file}`, `dossier-${current.id}-${file}`);
        target.replaceChildren(el("p", { class: "alert alert-success", role: "status" }, `Downloaded ${file === "export.zip" ? "the whole dossier" : "the report"}.`));
      }, target)));
    }
  }

  // -- start -----------------------------------------------------------------------------

  setupRegister();
  setupDatasetForm();
  setupWorkspaceForm();
  setupModelForm();
  setupNotebook();
  setupDossier();
  window.addEventListener("popstate", () => {
    const match = location.pathname.match(/\/usecases\/([^/]+)\/?$/);
    if (match) openUseCase(decodeURIComponent(match[1]));
    else view.hidden = true;
  });
  loadList().then(() => {
    if (app.dataset.usecase) openUseCase(app.dataset.usecase);
  });
})();
