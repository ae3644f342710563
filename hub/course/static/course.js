/* Shared helpers of the course pages: calling the JSON API, building DOM, dates.
 *
 * No build step and no framework: every page script uses `Course.api`, which
 * sends the service's XSRF token (JupyterHub checks it on every cookie-
 * authenticated request that is not a page view, reads included) and turns
 * an error answer into an exception carrying the API's own message.
 * Data is only ever put into the page with textContent, never as HTML.
 */
"use strict";

window.Course = (function () {
  const body = document.body;
  const apiBase = body.dataset.api; // e.g. /services/course/api/
  const xsrf = document.querySelector('meta[name="xsrf-token"]').content;

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Call the API; return the parsed JSON (or text for non-JSON answers). */
  async function api(method, path, data) {
    const init = {
      method: method,
      credentials: "same-origin",
      headers: { "X-XSRFToken": xsrf, Accept: "application/json" },
    };
    if (data !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    let response;
    try {
      response = await fetch(apiBase + path, init);
    } catch (e) {
      throw new ApiError(0, "The course service could not be reached. Check your connection and try again.");
    }
    const type = response.headers.get("Content-Type") || "";
    const payload = type.includes("json") ? await response.json().catch(() => null) : await response.text();
    if (!response.ok) {
      let message = payload && payload.error ? payload.error : "";
      if (!message) {
        message = {
          403: "You are not allowed to do this.",
          404: "This was not found.",
          413: "The file is too large.",
        }[response.status] || `The course service answered with an error (${response.status}).`;
      }
      if (response.status === 403 && !(payload && payload.error)) {
        message += " Your session may have expired: reload the page.";
      }
      throw new ApiError(response.status, message);
    }
    return payload;
  }

  /** Build an element: el("a", {href: "x", class: "btn"}, "text", child, ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  });

  /** "Mon, 3 Mar 2025, 17:00" in the reader's language and time zone. */
  function formatDate(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
  }

  /** A <time> element showing the date, with the exact ISO value kept. */
  function time(iso) {
    return el("time", { datetime: iso, title: iso }, formatDate(iso));
  }

  /** "in 3 days", "2 hours ago" relative to now. */
  function relative(iso) {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === "minute") return rtf.format(Math.round(seconds / size), unit);
    }
    return "";
  }

  /** "1 point", "2 points", "1.5 points". */
  function pointsWord(value) {
    return `${points(value)} point${Number(value) === 1 ? "" : "s"}`;
  }

  /** A number of points without needless decimals: 2, 1.5, 0.33. */
  function points(value) {
    if (value === null || value === undefined) return "–";
    return String(Math.round(Number(value) * 100) / 100);
  }

  /** ISO 8601 with the browser's offset from a datetime-local value ("2025-03-01T17:00"). */
  function localToIso(value) {
    if (!value) return null;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return null;
    const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
    const offset = -date.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    return (
      `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
      `T${pad(date.getHours())}:${pad(date.getMinutes())}:00` +
      `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
    );
  }

  /** Say something in the page's live region (read out by screen readers) and show it. */
  function announce(message, kind) {
    const region = document.getElementById("course-status");
    region.className = `alert alert-${kind || "info"} mt-3`;
    region.textContent = message;
  }

  /** Show the error of `fn` in `target` (or the page's live region). */
  async function guarded(fn, target) {
    try {
      return await fn();
    } catch (e) {
      const message = e instanceof ApiError ? e.message : `Something went wrong: ${e.message}`;
      // 409 "not running": the way to start a server is on the hub's home page.
      const start = e instanceof ApiError && e.status === 409 && /not running/.test(message)
        ? [" ", el("a", { href: `${body.dataset.hub}home` }, "Go to the home page to start it.")] : null;
      if (target) {
        // Several lines (a failing cell and its traceback): kept as written.
        const text = message.includes("\n") ? el("pre", { class: "course-traceback mb-0" }, message) : message;
        target.replaceChildren(el(message.includes("\n") ? "div" : "p", { class: "alert alert-danger", role: "alert" }, text, start));
      } else {
        announce(message, "danger");
      }
      return undefined;
    }
  }

  /** Disable a button while `fn` runs; show `busyText` on it meanwhile. */
  async function busy(button, busyText, fn) {
    const label = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (busyText) button.textContent = busyText;
    try {
      return await fn();
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = label;
    }
  }

  // Dates the server wrote into the page, shown in the reader's language and time zone.
  for (const node of document.querySelectorAll("time[data-localize]")) {
    node.title = node.getAttribute("datetime");
    node.textContent = formatDate(node.getAttribute("datetime"));
  }

  return {
    ApiError, api, el, time, formatDate, relative, points, pointsWord, localToIso, announce, guarded, busy,
    base: body.dataset.base, hub: body.dataset.hub, user: body.dataset.user,
    instructor: body.dataset.instructor === "1",
  };
})();
