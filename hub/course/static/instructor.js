/* Instructor pages: the overview with the release form, and one lab's page
 * (who has it, collect, autograde with a progress bar, questions, release feedback). */
"use strict";

(function () {
  const { api, el, time, points, guarded, busy } = Course;
  const base = Course.base;

  function releasesText(releases) {
    if (!releases || !releases.length) return "Not released yet.";
    return releases.map((r) => {
      const due = r.due ? ` – due ${Course.formatDate(r.due)}` : " – no deadline";
      return `${r.group}${due}`;
    }).join("; ");
  }

  // ---- overview ---------------------------------------------------------------------------

  async function loadOverview() {
    const target = document.getElementById("instructor-labs");
    const select = document.getElementById("release-lab");
    await guarded(async () => {
      const labs = await api("GET", "instructor/labs");
      target.removeAttribute("aria-busy");
      const chosen = select.value;
      select.replaceChildren(...labs.filter((l) => !l.error).map((l) =>
        el("option", { value: l.id, selected: l.id === chosen }, `${l.title} (${l.id})`)));
      if (!labs.length) {
        target.replaceChildren(el("p", {}, "There are no labs in the labs folder yet."));
        return;
      }
      target.replaceChildren(el("table", { class: "table table-striped align-middle", id: "labs-table" },
        el("caption", { class: "visually-hidden" }, "All labs and their release state"),
        el("thead", {}, el("tr", {},
          ["Lab", "Released to", "Submissions", "Collected", "Feedback released", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, labs.map((lab) => el("tr", { "data-lab": lab.id },
          el("td", {}, el("a", { href: `${base}instructor/labs/${encodeURIComponent(lab.id)}` }, lab.title || lab.id),
            el("div", { class: "small text-body-secondary" }, lab.id, lab.team ? " · team lab" : ""),
            lab.error ? el("div", { class: "small text-danger" }, lab.error) : null),
          el("td", {}, releasesText(lab.releases)),
          el("td", {}, lab.submissions ?? 0),
          el("td", {}, lab.collected ?? 0),
          el("td", {}, lab.feedback_released ?? 0),
          el("td", {}, el("a", { class: "btn btn-sm btn-outline-primary", href: `${base}instructor/labs/${encodeURIComponent(lab.id)}` }, "Open"),
            " ", el("a", { class: "btn btn-sm btn-outline-secondary", href: `${base}instructor/labs/${encodeURIComponent(lab.id)}/dashboard` }, "Dashboard")))))));
    }, target);
  }

  function setupRelease() {
    const form = document.getElementById("release-form");
    const result = document.getElementById("release-result");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const lab = form.lab.value;
      const group = form.group.value.trim() || "learners";
      const dueLocal = form.due.value;
      const due = Course.localToIso(dueLocal);
      if (dueLocal && !due) {
        result.replaceChildren(el("p", { class: "alert alert-danger", role: "alert" }, "The due date is not a valid date."));
        return;
      }
      busy(document.getElementById("release-submit"), "Releasing…", () => guarded(async () => {
        const release = await api("POST", "instructor/releases", { lab, group, due });
        result.replaceChildren(el("p", { class: "alert alert-success", role: "status" },
          `Released ${release.lab} to ${release.group}`, release.due ? [", due ", time(release.due)] : ", with no deadline", "."));
        await loadOverview();
      }, result));
    });
  }

  // ---- one lab ----------------------------------------------------------------------------

  function confirm(title, text, okLabel) {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-dialog-title").textContent = title;
    document.getElementById("confirm-dialog-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel || "Yes";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  async function loadLab(lab) {
    await guarded(async () => {
      const labs = await api("GET", "instructor/labs");
      const info = labs.find((l) => l.id === lab);
      if (!info) throw new Course.ApiError(404, `There is no lab "${lab}".`);
      document.getElementById("lab-title").textContent = info.title || lab;
      document.title = `${info.title || lab} - ${document.title.split(" - ").slice(-1)[0]}`;
      document.getElementById("lab-summary").textContent = info.summary || "";
      document.getElementById("lab-releases").textContent =
        `Released to: ${releasesText(info.releases)}${info.team ? " A team lab: one submission per team." : ""}`;
      const alert = info.setup_alert;
      document.getElementById("lab-setup-alert").replaceChildren(...(alert ? [el("div", { class: "alert alert-danger", role: "alert" },
        el("p", { class: "mb-1" }, `The lab's setup cell failed in ${alert.owner}'s “Check my work” (`, time(alert.at),
          `, ${alert.executor} executor): ${alert.notebook}, cell ${alert.cell}${alert.grade_id ? ` (${alert.grade_id})` : ""}. `,
          "Learners were told their answers could not be checked. The next autograding grades the lab's reference solution again first, and refuses if it fails."),
        el("pre", { class: "course-traceback mb-0" }, alert.output || alert.error))] : []));
    });
  }

  async function loadStatus(lab) {
    const target = document.getElementById("status");
    await guarded(async () => {
      const rows = await api("GET", `instructor/labs/${lab}/status`);
      target.removeAttribute("aria-busy");
      if (!rows.length) {
        target.replaceChildren(el("p", {}, "Nobody has this lab yet: release it to a group first."));
        return;
      }
      const fetched = rows.filter((r) => r.fetched_at).length;
      const submitted = rows.filter((r) => r.submissions > 0).length;
      target.replaceChildren(
        el("p", {}, `${fetched} of ${rows.length} ${fetched === 1 ? "has" : "have"} got the lab; ${submitted} ${submitted === 1 ? "has" : "have"} submitted.`),
        el("table", { class: "table table-sm table-striped align-middle", id: "status-table" },
          el("caption", { class: "visually-hidden" }, "Learners and teams with this lab"),
          el("thead", {}, el("tr", {}, ["Learner or team", "Got the lab", "Last submission", "Submissions",
            "Collected", "Score", "Feedback released", ""].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows.map((r) => el("tr", { "data-owner": r.owner },
            el("td", {}, r.owner, r.kind === "team" && r.members ? el("div", { class: "small text-body-secondary" }, r.members.join(", ")) : null),
            el("td", {}, r.fetched_at ? time(r.fetched_at) : "not yet"),
            el("td", {}, r.submitted_at ? time(r.submitted_at) : "none",
              r.late ? [" ", el("span", { class: "badge text-bg-warning" }, "Late")] : null),
            el("td", {}, r.submissions),
            el("td", {}, r.collected ? "yes" : "no"),
            el("td", {}, r.score === null || r.score === undefined ? "–" : `${points(r.score)} / ${points(r.max_score)}`,
              r.setup_failed ? [" ", el("span", { class: "badge text-bg-danger", title: "The lab's setup cell failed in this run: the failed items are not scored. Autograde again once the environment is fixed." }, "Setup failed")] : null,
              r.tampered ? [" ", el("span", { class: "badge text-bg-danger", title: "The grader found tampering with its checks or answers whose values lie: every autograded item is zero. Open the submission to see why." }, "Tampering")] : null,
              r.review ? [" ", el("span", { class: "badge text-bg-warning", title: "The grader noted something to look at (for example a comparison the learner wrote by hand). The scores stand." }, "To review")] : null),
            el("td", {}, r.feedback_released_at ? time(r.feedback_released_at) : "no"),
            el("td", {}, r.collected
              ? el("a", { class: "btn btn-sm btn-outline-primary", href: `${base}instructor/labs/${lab}/owners/${encodeURIComponent(r.owner)}` }, "Grade")
              : ""))))));
    }, target);
  }

  async function loadItems(lab) {
    const target = document.getElementById("items");
    await guarded(async () => {
      const items = await api("GET", `instructor/labs/${lab}/items`);
      const manual = items.filter((i) => i.kind === "manual");
      if (!manual.length) {
        target.replaceChildren(el("p", {}, "This lab has no question to grade by hand: the tests grade everything."));
        return;
      }
      target.replaceChildren(el("ul", { class: "list-unstyled course-items" }, manual.map((item) => el("li", { class: "mb-1", "data-grade-id": item.grade_id },
        el("a", { href: `${base}instructor/labs/${lab}/items/${encodeURIComponent(item.grade_id)}` }, `Grade “${item.title || item.grade_id}” for everyone`),
        ` (${item.grade_id}; ${Course.pointsWord(item.max_points)}`,
        item.ungraded !== undefined ? `; ${item.ungraded} still to grade` : "", ")"))));
    }, target);
  }

  /** The job's next state; while the service restarts (a minute at most), keep asking. */
  async function followJob(job, label) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await api("GET", `instructor/jobs/${job.job}`);
      } catch (err) {
        if (attempt >= 60 || (err.status && err.status < 500)) throw err;
        label.textContent = `The course service is restarting; grading goes on after it (${job.done} of ${job.total} done so far)…`;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  async function pollJob(lab, job) {
    const box = document.getElementById("autograde-progress");
    const bar = document.getElementById("autograde-bar");
    const label = document.getElementById("autograde-label");
    const errors = document.getElementById("autograde-errors");
    box.hidden = false;
    for (;;) {
      bar.max = Math.max(job.total, 1);
      bar.value = job.done;
      const check = job.selfcheck;
      const refused = check && !check.passed;
      label.textContent = job.state === "done"
        ? `Finished: ${job.done} of ${job.total} submissions graded.`
        : refused ? "Autograding refused: the lab's reference solution does not get full marks here. Nothing was recorded."
          : job.state === "failed" ? `Autograding stopped after ${job.done} of ${job.total}.`
            : `Grading… ${job.done} of ${job.total} submissions done.`;
      const about = [];
      if (job.executor) about.push(job.executor === "sandbox" ? "Graded in the sandbox." : `Graded without the sandbox (${job.executor} executor).`);
      if (check && check.passed) about.push(`Reference solution: full marks (${check.cached ? "checked earlier" : `checked in ${check.seconds.toFixed(1)} s`}).`);
      const info = about.length ? [el("p", { class: "small text-body-secondary mb-1", id: "autograde-executor" }, about.join(" "))] : [];
      for (const note of job.notes || []) info.push(el("p", { class: "small text-body-secondary mb-1 autograde-note" }, note));
      errors.replaceChildren(...info, ...(job.errors || []).map((e) => e.includes("\n")
        ? el("div", { class: "alert alert-danger small mb-1", role: "alert" }, el("pre", { class: "course-traceback mb-0" }, e))
        : el("p", { class: "alert alert-warning small mb-1" }, e)));
      if (job.state === "done" || job.state === "failed") {
        sessionStorage.removeItem(`autograde-${lab}`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await followJob(job, label);
    }
    box.dataset.state = job.state;
    await Promise.all([loadStatus(lab), loadItems(lab)]);
    return job;
  }

  /** After a reload, follow the autograding job this tab started, if it is still running. */
  async function resumeJob(lab) {
    const id = sessionStorage.getItem(`autograde-${lab}`);
    if (!id) return;
    const button = document.getElementById("autograde");
    await busy(button, "Autograding…", () => guarded(async () => {
      const job = await api("GET", `instructor/jobs/${id}`).catch((e) => {
        sessionStorage.removeItem(`autograde-${lab}`);  // finished and forgotten by the service
        throw e;
      });
      await pollJob(lab, job);
    }, document.getElementById("autograde-errors")));
  }

  function setupLab(lab) {
    const collect = document.getElementById("collect");
    collect.addEventListener("click", () => busy(collect, "Collecting…", () => guarded(async () => {
      const result = await api("POST", `instructor/labs/${lab}/collect`);
      document.getElementById("collect-result").replaceChildren(el("p", { class: "alert alert-success mt-2", role: "status" },
        `Collected ${result.collected} submission${result.collected === 1 ? "" : "s"}.`));
      await Promise.all([loadStatus(lab), loadItems(lab)]);
    }, document.getElementById("collect-result"))));

    const autograde = document.getElementById("autograde");
    autograde.addEventListener("click", () => busy(autograde, "Autograding…", () => guarded(async () => {
      const job = await api("POST", `instructor/labs/${lab}/autograde`);
      sessionStorage.setItem(`autograde-${lab}`, job.job);
      await pollJob(lab, job);
    }, document.getElementById("autograde-errors"))));

    const release = document.getElementById("release-feedback");
    const releaseResult = document.getElementById("release-feedback-result");
    release.addEventListener("click", async () => {
      const ok = await confirm("Release feedback?",
        "Every learner whose submission is graded will see their score, your comments and their feedback page.",
        "Release feedback");
      if (!ok) return;
      await busy(release, "Releasing…", () => guarded(async () => {
        const result = await api("POST", `instructor/labs/${lab}/feedback/release`);
        releaseResult.replaceChildren(el("p", { class: "alert alert-success mt-2", role: "status" },
          `Feedback released to ${result.released} learner${result.released === 1 ? "" : "s"} or team${result.released === 1 ? "" : "s"}.`));
        await loadStatus(lab);
      }, releaseResult));
    });
  }

  const page = document.body.dataset.page;
  if (page === "instructor-index") {
    setupRelease();
    loadOverview();
  } else if (page === "instructor-lab") {
    const lab = document.getElementById("lab-page").dataset.lab;
    setupLab(lab);
    resumeJob(lab);
    loadLab(lab);
    loadStatus(lab);
    loadItems(lab);
  }
})();
