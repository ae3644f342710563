/* AI4Scale Sandbox: the learner's labs inside JupyterLab.
 *
 * A JupyterLab 4 federated extension written by hand, without a build step: this
 * file is the module-federation container JupyterLab loads (window._JUPYTERLAB),
 * and it takes JupyterLab's own modules (Lumino widgets, the launcher's token,
 * icons) from the shared scope JupyterLab gives it in init().
 *
 * It adds:
 *  - a "My labs" panel in the left side bar: the course page's list of labs
 *    (Get / Open / Check my work / Submit), shown compactly (?embed=1); "Open"
 *    opens the notebook here, in JupyterLab;
 *  - a "My labs" card in the launcher, and a "Course" command that opens the
 *    whole course page in a JupyterLab tab;
 *  - on a learner's first visit, the panel opened with a short welcome;
 *  - when "Run All" stops at a cell (an exercise not answered yet, an error), that
 *    cell is selected and scrolled into view, instead of leaving the learner at the
 *    bottom of the notebook.
 */
(function () {
  "use strict";
  const NAME = "@ai4scale/course";
  let shared = null;

  function newer(a, b) {
    const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
    const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) > (pb[i] || 0);
    }
    return false;
  }

  /** A module JupyterLab shares (the newest version it offers). */
  async function use(name) {
    const versions = shared && shared[name];
    if (!versions) throw new Error(`${NAME}: JupyterLab shares no ${name}`);
    // The copy JupyterLab itself uses (its tokens are the ones plugins are matched by):
    // already loaded, else JupyterLab's own, else the newest.
    const keys = Object.keys(versions);
    const best =
      keys.find((v) => versions[v].loaded) ||
      keys.find((v) => versions[v].from === "@jupyterlab/application-top") ||
      keys.reduce((a, b) => (newer(b, a) ? b : a));
    const factory = await versions[best].get();
    return factory();
  }

  const ICON_SVG =
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><path d="M4 3h12l4 4v14H4z" opacity=".25"/>' +
    '<path d="M6 8h9v2H6zm0 4h12v2H6zm0 4h12v2H6z"/></g></svg>';

  function courseRoot(PageConfig) {
    const hubPrefix = PageConfig.getOption("hubPrefix") || "/hub/";
    return hubPrefix.replace(/hub\/?$/, "") + "services/course/";
  }

  function frame(src, title) {
    const node = document.createElement("div");
    node.className = "ai4scale-frame";
    node.style.cssText = "width:100%;height:100%;overflow:hidden;";
    const iframe = document.createElement("iframe");
    iframe.src = src;
    iframe.title = title;
    iframe.style.cssText = "border:0;width:100%;height:100%;";
    node.appendChild(iframe);
    return node;
  }

  function makePlugin(mods) {
    const [widgets, launcherMod, ui, coreutils, notebookMod] = mods;
    const { Widget } = widgets;
    const { PageConfig } = coreutils;
    const icon = new ui.LabIcon({ name: "ai4scale:my-labs", svgstr: ICON_SVG });
    return {
      id: `${NAME}:my-labs`,
      description: "The learner's labs inside JupyterLab: a panel, a launcher card, a welcome.",
      autoStart: true,
      optional: [launcherMod.ILauncher],
      activate: (app, launcher) => {
        const root = courseRoot(PageConfig);
        const user = PageConfig.getOption("hubUser") || "";
        const server = PageConfig.getOption("baseUrl") || "/";

        const panel = new Widget({ node: frame(`${root}?embed=1`, "My labs") });
        panel.id = "ai4scale-my-labs";
        panel.title.icon = icon;
        panel.title.caption = "My labs: get, open, check and submit your labs";
        panel.addClass("ai4scale-my-labs");
        app.shell.add(panel, "left", { rank: 50 });

        let coursePage = null;
        app.commands.addCommand("ai4scale:my-labs", {
          label: "My labs",
          caption: "Your labs: get them, open them, check your work and submit",
          icon: icon,
          execute: () => app.shell.activateById(panel.id),
        });
        app.commands.addCommand("ai4scale:course", {
          label: "Open the course page",
          caption: "The whole course page: labs, submissions, feedback",
          icon: icon,
          execute: () => {
            if (!coursePage || coursePage.isDisposed) {
              coursePage = new Widget({ node: frame(root, "Course") });
              coursePage.id = "ai4scale-course-page";
              coursePage.title.label = "Course";
              coursePage.title.icon = icon;
              coursePage.title.closable = true;
              app.shell.add(coursePage, "main");
            }
            app.shell.activateById(coursePage.id);
          },
        });
        if (launcher) {
          launcher.add({ command: "ai4scale:my-labs", category: "Course", rank: 0 });
          launcher.add({ command: "ai4scale:course", category: "Course", rank: 1 });
        }

        // "Open" in the panel: open the notebook here when it is on this server.
        window.addEventListener("message", (event) => {
          if (event.origin !== window.location.origin) return;
          const data = event.data || {};
          if (data.type === "ai4scale:open" && typeof data.path === "string") {
            app.commands.execute("docmanager:open", { path: data.path });
          } else if (data.type === "ai4scale:refresh") {
            app.commands.execute("filebrowser:refresh").catch(() => undefined);
          }
        });

        // "Run All" stopped at a cell: show that cell. The cells queued after it are reported
        // as failed too (aborted), so the first failure of a run wins, shown once they are all in.
        const firstFailure = new Map();
        notebookMod.NotebookActions.executed.connect((_, args) => {
          if (!args || args.success || !args.notebook || !args.cell) return;
          const notebook = args.notebook;
          const index = notebook.widgets.indexOf(args.cell);
          if (index < 0) return;
          const pending = firstFailure.get(notebook);
          if (pending) {
            pending.index = Math.min(pending.index, index);
            return;
          }
          const chosen = { index };
          firstFailure.set(notebook, chosen);
          const show = () => {
            if (notebook.isDisposed || chosen.index >= notebook.widgets.length) return;
            notebook.deselectAll();
            notebook.activeCellIndex = chosen.index;
            const cell = notebook.widgets[chosen.index];
            const shown = notebook.scrollToCell
              ? notebook.scrollToCell(cell, "center")
              : cell.node.scrollIntoView({ block: "center" });
            Promise.resolve(shown).catch(() => undefined);
          };
          window.setTimeout(() => {
            firstFailure.delete(notebook);
            show();
            // "Run All" moves to the last cell when it finishes its own bookkeeping; on a busy
            // machine that can come later: show the cell again unless the learner moved on.
            const last = notebook.widgets.length - 1;
            window.setTimeout(() => {
              if (notebook.activeCellIndex === last && chosen.index !== last) show();
            }, 1500);
          }, 300);
        });

        // A learner's first visit: the panel opens, with a welcome.
        const key = `ai4scale:welcomed:${user}:${server}`;
        app.restored.then(() => {
          let seen = false;
          try { seen = window.localStorage.getItem(key) === "yes"; } catch (e) { seen = true; }
          if (seen) return;
          app.shell.activateById(panel.id);
          const node = document.createElement("div");
          node.className = "ai4scale-welcome";
          node.style.cssText = "padding:2rem;max-width:44rem;line-height:1.5;overflow:auto;";
          node.innerHTML =
            "<h1>Welcome to the AI4Scale Sandbox</h1>" +
            "<p>This is your own workspace. Your labs are listed on the left, under " +
            "<strong>My labs</strong> (the icon with lines in the side bar), the next one due first.</p>" +
            "<ol><li><strong>Get lab</strong> copies a lab into your workspace.</li>" +
            "<li><strong>Open</strong> opens it here. Read it from the top and run each cell with " +
            "Shift+Enter. Each exercise says what to fill in.</li>" +
            "<li><strong>Check my work</strong> runs the checks you can see, as often as you like.</li>" +
            "<li><strong>Submit</strong> hands your work in to your trainer.</li></ol>" +
            "<p>You can come back to this list at any time: click <strong>My labs</strong> on the " +
            "left, or the My labs card when you open a new Launcher tab.</p>";
          const welcome = new Widget({ node });
          welcome.id = "ai4scale-welcome";
          welcome.title.label = "Welcome";
          welcome.title.icon = icon;
          welcome.title.closable = true;
          app.shell.add(welcome, "main", { activate: true });
          try { window.localStorage.setItem(key, "yes"); } catch (e) { /* private mode */ }
        });
      },
    };
  }

  const container = {
    init(shareScope) {
      shared = shareScope;
      return Promise.resolve();
    },
    async get(module) {
      if (module !== "./extension") throw new Error(`${NAME} has no module ${module}`);
      const mods = await Promise.all([
        use("@lumino/widgets"),
        use("@jupyterlab/launcher"),
        use("@jupyterlab/ui-components"),
        use("@jupyterlab/coreutils"),
        use("@jupyterlab/notebook"),
      ]);
      const plugin = makePlugin(mods);
      return () => ({ __esModule: true, default: [plugin] });
    },
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
