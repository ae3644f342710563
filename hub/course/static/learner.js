/* The learner's page: one card per released lab, with get / open / check / submit,
 * the list of submissions and, once released, the score and feedback. */
"use strict";

(function () {
  const { api, el, time, relative, points, guarded, busy } = Course;
  const labsNode = document.getElementById("labs");
  // The latest message of each lab's card (fetch result, submission receipt): kept when
  // the list is reloaded, so it stays next to the button that caused it.
  const notes = new Map();
  // The latest "Check my work" result of each lab: kept beside the submission receipt.
  const checks = new Map();

  const STATUS = {
    new: ["Not started", "text-bg-secondary", "Get the lab to start working on it."],
    fetched: ["In progress", "text-bg-info", "You have the lab. Submit it when you are done."],
    submitted: ["Submitted", "text-bg-primary", "Your trainer has your submission. You may still submit a newer version."],
    graded: ["Being graded", "text-bg-warning", "Your trainer is grading your work. Your score appears here once it is released."],
    feedback: ["Feedback ready", "text-bg-success", "Your score and your trainer's comments are below."],
  };

  // Inside JupyterLab's "My labs" panel (?embed=1): "Open" opens the notebook in that
  // JupyterLab (our extension listens), when the lab lives on the server around us.
  const embedded = document.body.dataset.embed === "1" && window.parent !== window;

  function hostServer() {
    try {
      return window.parent.location.pathname.replace(/(\/user\/[^/]+\/).*/, "$1");
    } catch (e) {
      return null; // not ours to read
    }
  }

  function tellJupyterLab(message) {
    if (embedded) window.parent.postMessage(message, window.location.origin);
  }

  /** URL of a notebook in the server the lab lives on (mine or my team's workspace). */
  function notebookUrl(lab, notebook) {
    let server = lab.server_url;
    if (!server) {
      const root = Course.hub.replace(/hub\/$/, "");
      server = `${root}user/${encodeURIComponent(Course.user)}/`;
    }
    if (!server.endsWith("/")) server += "/";
    const parts = [lab.path || lab.id, ...notebook.split("/")].map(encodeURIComponent);
    return `${server}lab/tree/${parts.join("/")}`;
  }

  function dueText(lab) {
    if (!lab.due) return el("span", {}, "No deadline.");
    const past = new Date(lab.due).getTime() < Date.now();
    const parts = [el("span", {}, "Due "), time(lab.due), ` (${relative(lab.due)}).`];
    if (past) {
      parts.push(
        lab.late_after_due
          ? " The deadline has passed: you can still submit, but your submission will be marked late."
          : " The deadline has passed.",
      );
    }
    return el("span", { class: past ? "course-overdue" : "" }, parts);
  }

  function statusBadge(lab) {
    const [label, cls] = STATUS[lab.status] || [lab.status, "text-bg-secondary"];
    return el("span", { class: `badge ${cls} course-status`, "data-status": lab.status }, label);
  }

  function renderCheck(target, result) {
    const items = result.items || [];
    const passed = items.filter((i) => i.passed).length;
    const rows = items.map((item) =>
      el("tr", { class: item.passed ? "course-pass" : "course-fail", "data-grade-id": item.grade_id },
        el("td", {}, item.title || "Check", items.some((i) => i.notebook !== item.notebook) ? el("div", { class: "small" }, item.notebook) : null),
        el("td", {}, item.passed ? "✔ Passed" : "✘ Not yet"),
        el("td", { class: "text-end" }, item.max_points !== undefined ? `${points(item.points)} / ${points(item.max_points)}` : points(item.points)),
        el("td", {}, item.message ? el("p", { class: "course-message mb-0" }, item.message) : ""),
      ),
    );
    const nodes = [
      el("h3", { class: "h5" }, "Check my work: the result"),
      el("p", { class: "course-check-summary" },
        items.length ? `${passed} of ${items.length} checks pass.` : "This lab has no checks to run before you submit.",
        passed < items.length ? " Read what each check says, change your notebook, save it (Ctrl+S) and check again." : ""),
      el("p", { class: "small text-body-secondary" }, "Your trainer's grade also uses checks you cannot see, and the questions your trainer reads."),
    ];
    if (items.length) {
      nodes.push(el("table", { class: "table table-sm course-check" },
        el("caption", { class: "visually-hidden" }, "Checks and their results"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Exercise"), el("th", { scope: "col" }, "Result"),
          el("th", { scope: "col", class: "text-end" }, "Points"), el("th", { scope: "col" }, "What it says"))),
        el("tbody", {}, rows)));
    }
    for (const error of result.errors || []) nodes.push(el("p", { class: "alert alert-warning" }, error));
    target.replaceChildren(...nodes);
  }

  function submissionTable(subs) {
    if (!subs.length) return el("p", {}, "You have not submitted this lab yet.");
    return el("table", { class: "table table-sm course-submissions" },
      el("caption", { class: "visually-hidden" }, "My submissions, oldest first"),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "No."), el("th", { scope: "col" }, "Handed in"),
        el("th", { scope: "col" }, "On time?"))),
      el("tbody", {}, subs.map((s, i) => el("tr", { "data-submission": s.id },
        el("td", {}, s.version || i + 1),
        el("td", {}, time(s.submitted_at), s.submitted_by && s.submitted_by !== Course.user ? ` by ${s.submitted_by}` : ""),
        el("td", {}, s.late ? el("span", { class: "badge text-bg-warning" }, "Late") : "On time")))));
  }

  async function loadSubmissions(lab, target) {
    await guarded(async () => {
      const subs = await api("GET", `labs/${lab.id}/submissions`);
      target.replaceChildren(submissionTable(subs));
    }, target);
  }

  async function loadFeedback(lab, target) {
    await guarded(async () => {
      const fb = await api("GET", `labs/${lab.id}/feedback`);
      const rows = (fb.items || []).map((item) => el("tr", { "data-grade-id": item.grade_id },
        el("td", {}, item.title || "Question"),
        el("td", { class: "text-end" }, `${points(item.points)} / ${points(item.max_points)}`),
        el("td", {}, item.level || ""),
        el("td", {}, item.comment ? el("div", { class: "course-comment" }, item.comment) : "",
          item.message ? el("p", { class: "course-message mb-0" }, item.message) : "")));
      target.replaceChildren(
        el("h3", { class: "h5" }, "Your score and feedback"),
        el("p", { class: "course-score" }, "Score: ", el("strong", {}, `${points(fb.score)} / ${points(fb.max_score)}`),
          fb.released_at ? [" (released ", time(fb.released_at), ")"] : ""),
        el("table", { class: "table table-sm course-feedback" },
          el("caption", { class: "visually-hidden" }, "Points and comments per question"),
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Question"), el("th", { scope: "col", class: "text-end" }, "Points"),
            el("th", { scope: "col" }, "Level"), el("th", { scope: "col" }, "Comments"))),
          el("tbody", {}, rows)),
        fb.html ? el("p", {}, el("a", { href: fb.html, class: "course-feedback-link", target: "_blank", rel: "noopener" },
          "Read the full feedback page, with your answers (opens in a new tab)")) : "",
      );
    }, target);
  }

  function renderLab(lab) {
    const id = `lab-${lab.id}`;
    const checkNode = el("div", { class: "course-check-results", "aria-live": "polite" });
    if (checks.has(lab.id)) renderCheck(checkNode, checks.get(lab.id));
    const receiptNode = el("div", { class: "course-receipt", "aria-live": "polite" }, notes.get(lab.id) || null);
    const subsNode = el("div", { class: "course-subs-body" }, el("p", {}, "Loading…"));
    const feedbackNode = el("div", { class: "course-feedback-body" });
    const fetched = lab.status !== "new";
    const teamNote = lab.team
      ? el("p", { class: "course-team" }, `A team lab: you work on it together with your team${lab.team_name ? ` (${lab.team_name})` : ""} in the team's shared workspace. One submission counts for the whole team.`)
      : null;

    const getButton = el("button", { type: "button", class: `btn ${fetched ? "btn-outline-primary" : "btn-primary"} course-get` },
      fetched ? "Get missing files again" : "Get lab");
    getButton.addEventListener("click", () => busy(getButton, "Getting…", () => guarded(async () => {
      const result = await api("POST", `labs/${lab.id}/fetch`);
      const written = result.written || [];
      const kept = result.kept || [];
      let message = written.length ? `Copied into your workspace: ${written.join(", ")}.` : "Nothing to copy: you have every file.";
      if (kept.length) message += ` Kept your own version of: ${kept.join(", ")}.`;
      notes.set(lab.id, el("p", { class: "alert alert-success course-fetch-result", role: "status" }, message));
      tellJupyterLab({ type: "ai4scale:refresh" });
      await refresh();
    }, receiptNode)));

    const serverPath = lab.server_url ? new URL(lab.server_url, window.location.href).pathname : null;
    const here = embedded && serverPath && hostServer() === serverPath;
    const openLinks = (lab.notebooks || []).map((nb) => {
      const link = el("a",
        { class: "btn btn-primary course-open", href: notebookUrl(lab, nb), target: "_blank", rel: "noopener" },
        (lab.notebooks.length > 1 ? `Open ${nb}` : "Open"),
        here ? null : el("span", { class: "visually-hidden" }, " (opens in a new tab)"));
      if (here) {
        link.addEventListener("click", (event) => {
          event.preventDefault();
          tellJupyterLab({ type: "ai4scale:open", path: `${lab.path || lab.id}/${nb}` });
        });
      }
      return link;
    });

    const checkButton = el("button", { type: "button", class: "btn btn-outline-secondary course-check-button" }, "Check my work");
    checkButton.addEventListener("click", () => busy(checkButton, "Checking… (this can take a minute)", () => guarded(async () => {
      checkNode.replaceChildren(el("p", {}, "Running the visible tests on your saved notebook…"));
      const result = await api("POST", `labs/${lab.id}/check`);
      checks.set(lab.id, result);
      renderCheck(checkNode, result);
    }, checkNode)));

    const submitButton = el("button", { type: "button", class: "btn btn-success course-submit" }, "Submit");
    submitButton.addEventListener("click", () => confirmSubmit(lab, async () => busy(submitButton, "Submitting…", () => guarded(async () => {
      const receipt = await api("POST", `labs/${lab.id}/submit`);
      notes.set(lab.id, el("div", { class: `alert ${receipt.late ? "alert-warning" : "alert-success"} course-submit-receipt`, role: "status" },
        el("strong", {}, "Submitted. "), `Your trainer has submission number ${receipt.version || 1}, handed in `,
        time(receipt.submitted_at), ". ",
        receipt.late ? "This submission is after the deadline and is marked late. " : "",
        "You may submit again until the deadline: the newest submission counts."));
      await refresh();
    }, receiptNode))));

    const [, , hint] = STATUS[lab.status] || ["", "", ""];
    const section = el("section", { class: "card mb-4 course-lab", id, "data-lab": lab.id, "aria-labelledby": `${id}-title` },
      el("div", { class: "card-body" },
        el("div", { class: "d-flex flex-wrap align-items-center gap-2 mb-2" },
          el("h2", { class: "h3 m-0", id: `${id}-title` }, lab.title || lab.id), statusBadge(lab)),
        lab.summary ? el("p", {}, lab.summary) : null,
        el("p", { class: "course-due" }, dueText(lab)),
        teamNote,
        el("p", { class: "text-body-secondary" }, hint),
        el("div", { class: "d-flex flex-wrap gap-2 course-actions" },
          getButton, fetched ? openLinks : null, fetched ? checkButton : null, fetched ? submitButton : null),
        receiptNode, checkNode,
        el("details", { class: "mt-3 course-subs", open: lab.submissions > 0 },
          el("summary", {}, `My submissions (${lab.submissions})`), subsNode),
        feedbackNode));
    if (lab.team && !lab.team_name) {
      // Nothing to ask the server for (it would refuse): say why instead.
      subsNode.replaceChildren(el("p", { class: "course-no-team" },
        "You are not in a team yet, so there is nothing here. Ask your trainer to add you to a team."));
    } else {
      loadSubmissions(lab, subsNode);
    }
    if (lab.status === "feedback") loadFeedback(lab, feedbackNode);
    return section;
  }

  function confirmSubmit(lab, onConfirm) {
    const dialog = document.getElementById("submit-dialog");
    const late = lab.due && new Date(lab.due).getTime() < Date.now();
    document.getElementById("submit-dialog-text").textContent =
      `Hand in "${lab.title || lab.id}" as it is saved now?` +
      (late ? " The deadline has passed, so this submission will be marked late." : "") +
      (lab.team ? " This submits the work of your whole team." : "");
    dialog.returnValue = "";
    dialog.addEventListener("close", function handler() {
      dialog.removeEventListener("close", handler);
      if (dialog.returnValue === "submit") onConfirm();
    });
    dialog.showModal();
  }

  /** Reload the lab list (each card shows its latest note again). */
  async function refresh() {
    await guarded(async () => {
      const labs = await api("GET", "labs");
      labsNode.removeAttribute("aria-busy");
      if (!labs.length) {
        labsNode.replaceChildren(Course.instructor
          ? el("p", { class: "alert alert-info" }, "You are a trainer in this course: release and grade labs on the ",
            el("a", { href: `${Course.base}instructor/`, target: embedded ? "_blank" : null }, "Teaching page"), ".")
          : el("p", { class: "alert alert-info" },
            "Your trainer has not given you any lab yet. When they do, it appears here."));
        return;
      }
      labsNode.replaceChildren(...labs.map(renderLab));
    }, labsNode);
  }

  refresh();
})();
