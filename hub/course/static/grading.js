/* Manual grading: one question across all learners ("item" mode) or every question of one
 * learner ("owner" mode). Each answer gets a form with the question's rubric levels
 * (points), comment snippets to click, a free comment, and a Save button. */
"use strict";

(function () {
  const { api, el, time, points, guarded, busy } = Course;
  const root = document.getElementById("grading");
  const lab = root.dataset.lab;
  const answersNode = document.getElementById("answers");
  let uid = 0;

  function outputText(output) {
    if (output.output_type === "stream") return output.text;
    if (output.output_type === "error") return `${output.ename}: ${output.evalue}`;
    const data = output.data || {};
    const text = data["text/plain"];
    return Array.isArray(text) ? text.join("") : text || "";
  }

  function joinText(value) {
    return Array.isArray(value) ? value.join("") : value || "";
  }

  // Markdown the server rendered and sanitised (markdown-it + bleach) is parsed in an inert
  // document (DOMParser runs no script) and rebuilt here from an allow-list of tags and
  // attributes: the page never writes markup it received.
  const TAGS = new Set(["a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul"]);

  function rebuild(node) {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    const tag = node.tagName.toLowerCase();
    const children = [...node.childNodes].map(rebuild);
    if (!TAGS.has(tag)) return children; // unknown markup: keep its text only
    const attrs = {};
    const href = node.getAttribute("href");
    if (tag === "a" && href && /^(https?:|mailto:)/i.test(href)) {
      Object.assign(attrs, { href, target: "_blank", rel: "noopener noreferrer" });
    }
    if (tag === "abbr" && node.getAttribute("title")) attrs.title = node.getAttribute("title");
    return el(tag, attrs, children);
  }

  function rendered(html, cls) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    return el("div", { class: cls }, [...doc.body.childNodes].map(rebuild));
  }

  function answerBlock(answer) {
    const outputs = (answer.outputs || []).map(outputText).filter(Boolean).join("\n");
    const source = joinText(answer.source);
    return el("div", { class: "course-answer" },
      el("h3", { class: "h6" }, "Answer"),
      !source.trim() ? el("p", { class: "fst-italic" }, "No answer.")
        : answer.source_html ? rendered(answer.source_html, "course-source course-markdown")
          : el("pre", { class: "course-source" }, source),
      outputs ? [el("h3", { class: "h6" }, "Output"), el("pre", { class: "course-output" }, outputs)] : null,
      answer.status === "setup-failed"
        ? el("p", { class: "alert alert-warning small course-setup-failed" },
          "Not scored: the lab's setup cell failed in this run, so the answer was never checked. Fix the grading environment and autograde again.") : null,
      answer.message ? el("p", { class: "small text-body-secondary course-engine" }, "Grading engine: ", answer.message) : null,
      answer.kind !== "manual" && answer.auto_score !== null && answer.auto_score !== undefined
        ? el("p", { class: "small" }, `Autograded: ${points(answer.auto_score)} / ${points(answer.max_points)}`) : null);
  }

  function gradeText(answer) {
    if (answer.manual_score === null || answer.manual_score === undefined) return "Not graded by hand yet.";
    return `Graded: ${points(answer.manual_score)} / ${points(answer.max_points)}${answer.grader ? ` by ${answer.grader}` : ""}.`;
  }

  /** The grading form of one answer; `onSaved(grade)` after a successful save. */
  function gradeForm(answer, item, onSaved) {
    const n = ++uid;
    const rubric = item.rubric || answer.rubric || null;
    const levels = (rubric && rubric.levels) || [];
    const snippets = (rubric && rubric.comments) || [];
    const max = Number(answer.max_points ?? item.max_points);
    const pointsInput = el("input", {
      type: "number", class: "form-control course-points", id: `points-${n}`, min: 0, max, step: "any",
      value: answer.manual_score ?? answer.score ?? "", required: true, "aria-describedby": `points-help-${n}`,
    });
    const comment = el("textarea", { class: "form-control course-comment-input", id: `comment-${n}`, rows: 3 });
    comment.value = answer.comment || "";
    const status = el("p", { class: "course-save-status small mt-2", "aria-live": "polite" }, gradeText(answer));

    const radios = levels.map((level, i) => {
      const input = el("input", {
        class: "form-check-input", type: "radio", name: `level-${n}`, id: `level-${n}-${i}`, value: i,
        checked: answer.level === i,
      });
      input.addEventListener("change", () => { pointsInput.value = level.points; });
      return el("div", { class: "form-check course-level" }, input,
        el("label", { class: "form-check-label", for: `level-${n}-${i}` },
          el("strong", {}, level.label), ` – ${Course.pointsWord(level.points)}`,
          level.description ? el("span", { class: "d-block small text-body-secondary" }, level.description) : null));
    });
    if (levels.length) {
      const none = el("input", { class: "form-check-input", type: "radio", name: `level-${n}`, id: `level-${n}-none`, value: "", checked: answer.level === null || answer.level === undefined });
      radios.push(el("div", { class: "form-check course-level" }, none,
        el("label", { class: "form-check-label", for: `level-${n}-none` }, "No level: I set the points myself")));
    }

    const snippetButtons = snippets.map((text) => el("button", {
      type: "button", class: "btn btn-sm btn-outline-secondary course-snippet",
      onclick: () => {
        comment.value = comment.value.trim() ? `${comment.value.trimEnd()}\n${text}` : text;
        comment.focus();
      },
    }, text));

    const save = el("button", { type: "submit", class: "btn btn-primary course-save" }, "Save grade");
    const form = el("form", { class: "course-grade-form", novalidate: true },
      levels.length ? el("fieldset", { class: "mb-2" }, el("legend", { class: "h6" }, "Rubric"), radios) : null,
      el("div", { class: "row g-2 align-items-end" },
        el("div", { class: "col-sm-3" },
          el("label", { class: "form-label", for: `points-${n}` }, "Points"),
          pointsInput,
          el("div", { class: "form-text", id: `points-help-${n}` }, `From 0 to ${points(max)}.`))),
      el("div", { class: "mt-2" },
        el("label", { class: "form-label", for: `comment-${n}` }, "Comment to the learner"),
        snippetButtons.length ? el("div", { class: "d-flex flex-wrap gap-1 mb-1", role: "group", "aria-label": "Comment snippets: click to add" }, snippetButtons) : null,
        comment),
      el("div", { class: "mt-2" }, save), status);

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = form.querySelector(`input[name="level-${n}"]:checked`);
      const level = chosen && chosen.value !== "" ? Number(chosen.value) : null;
      const value = pointsInput.value === "" ? null : Number(pointsInput.value);
      if (value === null && level === null) {
        status.textContent = "Choose a level or enter the points.";
        status.className = "course-save-status small mt-2 text-danger";
        pointsInput.focus();
        return;
      }
      if (value !== null && (Number.isNaN(value) || value < 0 || value > max)) {
        status.textContent = `The points must be between 0 and ${points(max)}.`;
        status.className = "course-save-status small mt-2 text-danger";
        pointsInput.focus();
        return;
      }
      busy(save, "Saving…", () => guarded(async () => {
        const grade = await api("PUT",
          `instructor/labs/${lab}/grades/${encodeURIComponent(answer.owner)}/${encodeURIComponent(answer.grade_id)}`,
          { level, points: value, comment: comment.value });
        status.textContent = `Saved: ${points(grade.points)} / ${points(grade.max_points)} points.`;
        status.className = "course-save-status small mt-2 text-success";
        form.dataset.saved = "true";
        if (onSaved) onSaved(grade);
      }, status));
    });
    return form;
  }

  function itemHeader(item) {
    const rubric = item.rubric;
    return el("div", { class: "card mb-3 course-item-header" }, el("div", { class: "card-body" },
      el("p", { class: "mb-1" }, `Notebook ${item.notebook} · ${Course.pointsWord(item.max_points)} · `,
        item.kind === "manual" ? "graded by hand" : "graded by tests"),
      item.prompt_html ? [el("h2", { class: "h6" }, "The question"), rendered(item.prompt_html, "course-prompt course-markdown")] : null,
      rubric && rubric.levels && rubric.levels.length ? [
        el("h2", { class: "h6" }, "Rubric"),
        el("table", { class: "table table-sm course-rubric" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Level"), el("th", { scope: "col" }, "Points"), el("th", { scope: "col" }, "What it means"))),
          el("tbody", {}, rubric.levels.map((l) => el("tr", {}, el("td", {}, l.label), el("td", {}, points(l.points)), el("td", {}, l.description || ""))))),
      ] : el("p", { class: "small text-body-secondary" }, "No rubric for this question: set the points yourself.")));
  }

  // ---- one question, every learner --------------------------------------------------------

  async function itemMode() {
    const gradeId = root.dataset.gradeId;
    const onlyUngraded = document.getElementById("only-ungraded");
    const progress = document.getElementById("grading-progress");
    await guarded(async () => {
      const data = await api("GET", `instructor/labs/${lab}/items/${encodeURIComponent(gradeId)}/answers`);
      const { item, answers } = data;
      document.getElementById("item-title").textContent = `Grade “${item.title}” for everyone`;
      document.title = `Grade ${item.title}`;
      document.getElementById("item-header").replaceChildren(itemHeader(item));
      answersNode.removeAttribute("aria-busy");
      const graded = new Set(answers.filter((a) => a.manual_score !== null && a.manual_score !== undefined).map((a) => a.owner));
      const showProgress = () => { progress.textContent = `${graded.size} of ${answers.length} answers graded by hand.`; };
      showProgress();
      if (!answers.length) {
        answersNode.replaceChildren(el("p", {}, "No collected submission yet: collect the submissions on the lab's page first."));
        return;
      }
      const cards = answers.map((answer) => {
        const card = el("section", { class: "card mb-3 course-answer-card", "data-owner": answer.owner, "aria-labelledby": `owner-${answer.owner}` },
          el("div", { class: "card-body" },
            el("h2", { class: "h5", id: `owner-${answer.owner}` }, answer.owner,
              " ", el("a", { class: "small fw-normal", href: `${Course.base}instructor/labs/${lab}/owners/${encodeURIComponent(answer.owner)}` }, "(all questions)")),
            answerBlock(answer),
            gradeForm(answer, item, () => { graded.add(answer.owner); card.dataset.graded = "true"; showProgress(); })));
        card.dataset.graded = graded.has(answer.owner) ? "true" : "false";
        return card;
      });
      answersNode.replaceChildren(...cards);
      onlyUngraded.addEventListener("change", () => {
        for (const card of cards) card.hidden = onlyUngraded.checked && card.dataset.graded === "true";
      });
    }, answersNode);
  }

  // ---- one learner, every question --------------------------------------------------------

  async function ownerNav(owner) {
    const nav = document.getElementById("owner-nav");
    await guarded(async () => {
      const rows = (await api("GET", `instructor/labs/${lab}/status`)).filter((r) => r.collected);
      const owners = rows.map((r) => r.owner);
      const i = owners.indexOf(owner);
      const link = (name, label, step) => el("a", { class: "btn btn-sm btn-outline-secondary", "data-step": step, href: `${Course.base}instructor/labs/${lab}/owners/${encodeURIComponent(name)}` }, label);
      const select = el("select", { class: "form-select form-select-sm w-auto d-inline-block", id: "owner-select", "aria-label": "Go to learner" },
        owners.map((name) => el("option", { value: name, selected: name === owner }, name)));
      select.addEventListener("change", () => { window.location.href = `${Course.base}instructor/labs/${lab}/owners/${encodeURIComponent(select.value)}`; });
      nav.replaceChildren(el("div", { class: "d-flex flex-wrap gap-2 align-items-center" },
        i > 0 ? link(owners[i - 1], `← ${owners[i - 1]}`, "previous") : null,
        el("label", { for: "owner-select", class: "small" }, "Learner:"), select,
        i >= 0 && i < owners.length - 1 ? link(owners[i + 1], `${owners[i + 1]} →`, "next") : null,
        el("span", { class: "small text-body-secondary" }, i >= 0 ? `${i + 1} of ${owners.length}` : "")));
    }, nav);
  }

  async function ownerMode() {
    const owner = root.dataset.owner;
    ownerNav(owner);
    await guarded(async () => {
      const [sub, items] = await Promise.all([
        api("GET", `instructor/labs/${lab}/submissions/${encodeURIComponent(owner)}`),
        api("GET", `instructor/labs/${lab}/items`),
      ]);
      const byId = new Map(items.map((it) => [`${it.notebook}/${it.grade_id}`, it]));
      const s = sub.submission || {};
      document.getElementById("owner-header").replaceChildren(el("p", {},
        s.submitted_at ? ["Submission handed in ", time(s.submitted_at)] : "Collected submission",
        s.late ? [" ", el("span", { class: "badge text-bg-warning" }, "Late")] : null,
        sub.score !== null && sub.score !== undefined ? ` · score so far ${points(sub.score)} / ${points(sub.max_score)}` : "",
        s.sha256 ? [el("br"), el("span", { class: "small" }, "Fingerprint (SHA-256): ", el("code", { class: "course-sha" }, s.sha256))] : null),
        sub.tampered ? el("div", { class: "alert alert-danger", id: "owner-tampered", role: "alert" },
          el("strong", {}, "Tampering found: every autograded item is zero. "), sub.tampered) : null,
        Object.keys(sub.review || {}).length ? el("div", { class: "alert alert-warning", id: "owner-review" },
          el("strong", {}, "To review (the scores stand): "),
          Object.entries(sub.review).map(([nb, text]) => el("div", {}, `${nb}: ${text}`))) : null);
      answersNode.removeAttribute("aria-busy");
      const cards = sub.items.map((answer) => {
        const item = byId.get(`${answer.notebook}/${answer.grade_id}`) || { ...answer, rubric: answer.rubric };
        const manual = (answer.kind || item.kind) === "manual";
        const card = el("details", { class: "card mb-2 course-answer-card", "data-grade-id": answer.grade_id });
        const state = el("span", { class: "small fw-normal text-body-secondary course-card-state" });
        const showState = (score, handGraded) => {
          const done = handGraded || !manual;
          state.textContent = ` · ${score === null || score === undefined ? "–" : points(score)} / ${points(answer.max_points ?? item.max_points)}`
            + ` · ${manual ? (done ? "graded by hand" : "to grade by hand") : "graded by tests"}`;
          card.dataset.graded = done ? "true" : "false";
        };
        showState(answer.score, answer.manual_score !== null && answer.manual_score !== undefined);
        const form = gradeForm({ ...answer, owner: answer.owner || owner }, item, (grade) => showState(grade.points, true));
        card.append(
          el("summary", { class: "card-header course-card-summary" },
            el("span", { class: "h6" }, answer.title || answer.grade_id), state,
            el("span", { class: "visually-hidden" }, ` (${answer.grade_id})`)),
          el("div", { class: "card-body" },
            el("p", { class: "small text-body-secondary mb-1" }, `Item ${answer.grade_id} in ${answer.notebook}`),
            answer.prompt_html ? el("details", { class: "mb-2" }, el("summary", { class: "small" }, "The question"),
              rendered(answer.prompt_html, "course-prompt course-markdown")) : null,
            answerBlock(answer),
            manual ? form : el("details", {}, el("summary", {}, "Change this score by hand"), form)));
        return card;
      });
      answersNode.replaceChildren(
        el("p", { class: "small text-body-secondary", id: "grading-keys" },
          "Keys: J / K next or previous question · 1–9 choose a rubric level · S save · N / P next or previous learner."),
        ...cards);
      // Open the first question still to grade by hand (or the first one).
      (cards.find((c) => c.dataset.graded === "false") || cards[0])?.setAttribute("open", "");
      keyboard(cards);
    }, answersNode);
  }

  /** Keyboard shortcuts of the per-learner page; never while typing in a field. */
  function keyboard(cards) {
    const current = () => cards.findIndex((c) => c.open);
    const show = (i) => {
      if (i < 0 || i >= cards.length) return;
      cards.forEach((c, j) => { c.open = j === i; });
      cards[i].scrollIntoView({ block: "start" });
      cards[i].querySelector("summary").focus();
    };
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target.closest("input, textarea, select, [contenteditable]")) return;
      const key = event.key.toLowerCase();
      const i = current();
      if (key === "j") show(i + 1);
      else if (key === "k") show(Math.max(0, i - 1));
      else if (key === "n" || key === "p") {
        const link = document.querySelector(`#owner-nav a[data-step="${key === "n" ? "next" : "previous"}"]`);
        if (link) window.location.href = link.href;
      } else if (/^[1-9]$/.test(key) && i >= 0) {
        const radio = cards[i].querySelectorAll("input.form-check-input[type=radio]")[Number(key) - 1];
        if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change")); }
      } else if (key === "s" && i >= 0) {
        const form = cards[i].querySelector("form.course-grade-form");
        if (form) form.requestSubmit();
      } else return;
      event.preventDefault();
    });
  }

  if (root.dataset.mode === "item") itemMode();
  else ownerMode();
})();
