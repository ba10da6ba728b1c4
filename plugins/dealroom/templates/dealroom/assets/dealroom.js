// dealroom: small helpers on every deal page. Loaded from the site itself (the pages'
// Content-Security-Policy allows no inline script of ours); no library.
(() => {
  "use strict";
  const root = document.documentElement;

  // The address to print or copy: the page as opened, never a fragment (in encrypted
  // mode a `#key=` fragment would hand out the reader's own key).
  const pageUrl = () => location.origin + location.pathname + location.search;

  // Printing leaves a page's detail part out unless the reader ticks "Print the detail
  // too"; the class is kept in sync, so the browser's own print menu obeys it as well.
  function setUpPrinting() {
    const detail = document.querySelector(".dealroom-detail");
    const checkbox = document.querySelector("[data-dealroom-print-detail]");
    if (!detail || !checkbox) return;
    checkbox.closest("label").hidden = false;
    const sync = () => root.classList.toggle("dealroom-print-brief", !checkbox.checked);
    checkbox.addEventListener("change", sync);
    sync();
  }

  function setUpActions() {
    const bar = document.querySelector(".dealroom-actions");
    if (!bar) return;
    const status = bar.querySelector(".dealroom-action-status");
    bar.querySelector("[data-dealroom-action=print]").addEventListener("click", () => print());
    bar.querySelector("[data-dealroom-action=copy-link]").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(pageUrl());
        status.textContent = bar.dataset.copied;
      } catch (blocked) {
        status.textContent = bar.dataset.copyThis + " " + pageUrl();
      }
    });
    bar.hidden = false;
  }

  // Tables: on a phone each row becomes a stacked card whose cells carry their column's
  // name (CSS reads `data-label`), so no column hides in a sideways-scrolling box. The
  // ARIA roles keep the table's meaning for screen readers once CSS changes `display`.
  // Only tables with one header row are stacked; others keep their grid (and scroll).
  function columnNames(table) {
    const rows = table.tHead ? [...table.tHead.rows] : [];
    if (rows.length !== 1 || [...rows[0].cells].some((cell) => cell.rowSpan > 1)) return null;
    return [...rows[0].cells].flatMap((cell) =>
      Array(cell.colSpan).fill(cell.textContent.trim()));
  }

  function labelTables() {
    for (const table of document.querySelectorAll(".md-typeset table")) {
      const names = columnNames(table);
      if (!names || table.hasAttribute("data-dealroom-stacked")) continue;
      table.setAttribute("data-dealroom-stacked", "");
      table.setAttribute("role", "table");
      for (const group of table.querySelectorAll(":scope > thead, :scope > tbody, :scope > tfoot")) {
        group.setAttribute("role", "rowgroup");
      }
      for (const cell of table.tHead.rows[0].cells) cell.setAttribute("role", "columnheader");
      table.tHead.rows[0].setAttribute("role", "row");
      const spanning = []; // columns still taken by a cell with rowspan from a row above
      for (const row of [...table.rows].filter((row) => row.parentElement !== table.tHead)) {
        row.setAttribute("role", "row");
        let column = 0;
        for (const cell of row.cells) {
          while (spanning[column] > 0) column += 1;
          cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
          if (names[column]) cell.setAttribute("data-label", names[column]);
          // One wrapper per cell: the label is one grid column, everything else the other.
          const content = document.createElement("span");
          content.className = "dealroom-cell";
          content.append(...cell.childNodes);
          cell.append(content);
          for (let taken = 0; taken < cell.colSpan; taken += 1) {
            spanning[column + taken] = Math.max(spanning[column + taken] || 0, cell.rowSpan);
          }
          column += cell.colSpan;
        }
        for (let index = 0; index < spanning.length; index += 1) {
          if (spanning[index] > 0) spanning[index] -= 1;
        }
      }
    }
  }

  // A region that still scrolls sideways (a very wide table on a wide screen) must be
  // reachable by keyboard and named for screen readers.
  function focusableScrollRegions() {
    const words = document.querySelector(".dealroom-actions")?.dataset ?? {};
    for (const region of document.querySelectorAll(".md-typeset__scrollwrap")) {
      const scrolls = region.scrollWidth > region.clientWidth + 1;
      if (scrolls && !region.hasAttribute("tabindex")) {
        region.setAttribute("tabindex", "0");
        region.setAttribute("role", "region");
        region.setAttribute("aria-label", words.scrolls || "Table, scrolls sideways");
      }
    }
  }

  // Material's search dialog has no accessible name; give it the search field's label.
  // (Set here rather than in a copy of Material's search partial, which would go stale.)
  function nameSearchDialog() {
    const dialog = document.querySelector(".md-search[role=dialog]");
    const input = dialog?.querySelector("input[aria-label]");
    if (dialog && input && !dialog.hasAttribute("aria-label")) {
      dialog.setAttribute("aria-label", input.getAttribute("aria-label"));
    }
  }

  // Once per page shown (with Material's instant navigation, once per page it swaps in).
  function start() {
    nameSearchDialog();
    for (const element of document.querySelectorAll("[data-dealroom-page-url]")) {
      element.textContent = pageUrl();
    }
    setUpActions();
    setUpPrinting();
    labelTables();
    focusableScrollRegions();
  }

  // Material wraps tables in scroll regions from its own script: look again once it ran,
  // and whenever the width changes.
  addEventListener("load", focusableScrollRegions);
  addEventListener("resize", focusableScrollRegions);
  if (typeof window.document$ === "object" && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(start); // Material's page observable: the first page too
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
