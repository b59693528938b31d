// The dashboard's own behaviour, wired by data-attributes. The Content-Security-Policy
// (rediverio/settings.py) runs scripts only from our static files: no inline <script>,
// no on…= handlers, no eval. Listeners sit on the document, so content that htmx swaps
// in (polling, boosted forms, partials) behaves like the page it replaces.
(() => {
  "use strict";

  // <select data-autosubmit>: choosing an option submits its form (the team switcher,
  // the agent's "can it run a scan?" check); a <noscript> button covers no-JS browsers.
  document.addEventListener("change", (event) => {
    const field = event.target;
    if (field.matches("select[data-autosubmit]") && field.form) field.form.submit();
  });

  // <form data-confirm="Question?">: submitting asks first. The text is an attribute,
  // never code, so a name with quotes in it stays text. Capture phase: a refusal stops
  // the event before any listener on the form itself (htmx's, were the form boosted).
  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    true,
  );

  // <input type="checkbox" data-check-all="NAME">: ticks or clears every checkbox
  // called NAME in the same form (the findings list's "select every finding").
  document.addEventListener("click", (event) => {
    const master = event.target;
    if (!master.matches("input[type=checkbox][data-check-all]") || !master.form) return;
    for (const box of master.form.querySelectorAll("input[type=checkbox]")) {
      if (box.name === master.dataset.checkAll) box.checked = master.checked;
    }
  });

  // <input data-filter-list="ID">: typing hides the [data-asset] items of #ID whose
  // text does not contain the words (the wizard's target list); Enter does not submit.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches("input[data-filter-list]")) {
      event.preventDefault();
    }
  });
  document.addEventListener("input", (event) => {
    const filter = event.target;
    if (!filter.matches("input[data-filter-list]")) return;
    const list = document.getElementById(filter.dataset.filterList);
    if (!list) return;
    const words = filter.value.trim().toLowerCase();
    for (const item of list.querySelectorAll("[data-asset]")) {
      item.hidden = words !== "" && !item.dataset.asset.includes(words);
    }
  });

  // <div data-uses-from="SELECT-ID"> holding <div data-uses="a b">: each group shows
  // only while the select's value is one of its words (the wizard's schedule fields).
  const within = (root, selector) => [
    ...(root instanceof Element && root.matches(selector) ? [root] : []),
    ...root.querySelectorAll(selector),
  ];
  const showUsedGroups = (root) => {
    for (const scope of within(root, "[data-uses-from]")) {
      const select = document.getElementById(scope.dataset.usesFrom);
      if (!select) continue;
      for (const group of scope.querySelectorAll("[data-uses]")) {
        group.hidden = !group.dataset.uses.split(" ").includes(select.value);
      }
    }
  };
  document.addEventListener("change", (event) => {
    const id = event.target.id;
    if (id && document.querySelector(`[data-uses-from="${CSS.escape(id)}"]`)) {
      showUsedGroups(document);
    }
  });

  const init = (root) => showUsedGroups(root);
  // A deferred script runs before DOMContentLoaded; htmx:load then covers swapped-in
  // content (htmx fires it on every element it adds, and on the body at start).
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => init(document));
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", (event) => {
    if (event.target instanceof Element) init(event.target);
  });
})();
