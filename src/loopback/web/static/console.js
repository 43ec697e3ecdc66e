// The console works without this script; with it, pages follow buckets on their way, forms check
// as you type, and copy buttons copy. No library, nothing loaded from elsewhere.
"use strict";

(function () {
  var POLL_MS = 1000;

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand("copy");
      document.body.removeChild(area);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function setUpCopy(button) {
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      copyText(target.textContent).then(function () {
        button.textContent = "Copied";
        button.classList.add("copied");
      }, function () {
        button.textContent = "Select and copy";
      });
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
    });
  }

  // Only the selected provider's regions are offered; without a script all of them are, grouped.
  function setUpRegions(form) {
    var provider = form.elements.namedItem("provider");
    var region = form.elements.namedItem("region");
    if (!provider || !region) { return; }
    function filter() {
      var first = null;
      Array.prototype.forEach.call(region.querySelectorAll("optgroup"), function (group) {
        var mine = group.getAttribute("data-provider") === provider.value;
        group.hidden = !mine;
        group.disabled = !mine;
        if (mine && !first) { first = group.querySelector("option"); }
      });
      var chosen = region.options[region.selectedIndex];
      if ((!chosen || chosen.parentNode.disabled) && first) { first.selected = true; }
      Array.prototype.forEach.call(form.querySelectorAll("[data-failing-for]"), function (note) {
        note.hidden = note.getAttribute("data-failing-for") !== provider.value;
      });
    }
    provider.addEventListener("change", filter);
    filter();
  }

  // Validation as you type: the console asks the server, which answers every field's problems.
  function setUpCheck(form) {
    var url = form.getAttribute("data-check");
    var name = form.elements.namedItem("name");
    var touched = name.value !== "";
    var timer = null;
    var asked = 0;

    function show(body) {
      ["name", "provider", "region", "deletion_policy"].forEach(function (field) {
        var list = form.querySelector('[data-errors-for="' + field + '"]');
        if (!list) { return; }
        var messages = (body.errors && body.errors[field]) || [];
        if (field === "name" && !touched) { messages = []; }
        list.textContent = "";
        messages.forEach(function (message) {
          var item = document.createElement("li");
          item.textContent = message;
          list.appendChild(item);
        });
        var box = list.closest(".field");
        if (box) { box.classList.toggle("has-error", messages.length > 0); }
        var input = form.elements.namedItem(field);
        if (input && input.setAttribute) {
          if (messages.length) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
        }
      });
      var ok = form.querySelector('[data-ok-for="name"]');
      if (ok) {
        ok.hidden = !(body.valid && touched);
        // A provider whose last check failed gets no promise of an endpoint: the server says why.
        ok.textContent = !body.valid ? "" : body.warning ? "✓ The name is free. " + body.warning
          : "✓ Available. Its endpoint will be " + body.endpoint;
        ok.classList.toggle("warning", Boolean(body.valid && body.warning));
      }
    }

    function check() {
      var mine = ++asked;
      fetch(url, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (body) {
        if (body && mine === asked) { show(body); }
      }).catch(function () { /* the server checks again on submit */ });
    }

    name.addEventListener("input", function () {
      touched = true;
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    Array.prototype.forEach.call(form.querySelectorAll("select, input[type=radio]"), function (input) {
      input.addEventListener("change", check);
    });
  }

  // The key forms check as you type too: the name's length, the mode, the prefix, the expiry.
  // The server checks all of it again, and the buckets, when the form is sent.
  function setUpKeyCheck(form) {
    var url = form.getAttribute("data-key-check");
    var fields = ["name", "access", "prefix", "expires_in_days"];
    var timer = null;
    var asked = 0;

    function show(errors) {
      fields.forEach(function (field) {
        var list = form.querySelector('[data-errors-for="' + field + '"]');
        if (!list) { return; }
        var messages = errors[field] || [];
        list.textContent = "";
        messages.forEach(function (message) {
          var item = document.createElement("li");
          item.textContent = message;
          list.appendChild(item);
        });
        var box = list.closest(".field");
        if (box) { box.classList.toggle("has-error", messages.length > 0); }
        var input = form.elements.namedItem(field);
        if (input && input.setAttribute) {
          if (messages.length) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
        }
      });
    }

    function check() {
      var mine = ++asked;
      fetch(url, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (body) {
        if (body && mine === asked) { show(body.errors || {}); }
      }).catch(function () { /* the server checks again on submit */ });
    }

    fields.forEach(function (field) {
      var input = form.elements.namedItem(field);
      if (!input || !input.addEventListener) { return; }
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", function () {
        clearTimeout(timer);
        timer = setTimeout(check, 250);
      });
    });
  }

  // The delete button waits for the bucket's name; the server checks it again.
  function setUpConfirm(form) {
    var expected = form.getAttribute("data-confirm-name");
    var input = form.elements.namedItem("confirm_name");
    var button = form.querySelector("button[type=submit]");
    function update() { button.disabled = input.value.trim() !== expected; }
    input.addEventListener("input", update);
    update();
  }

  function init(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-copy]"), setUpCopy);
    Array.prototype.forEach.call(root.querySelectorAll("[data-hide-with-js]"), function (element) {
      element.hidden = true;
    });
    Array.prototype.forEach.call(root.querySelectorAll("select[data-autosubmit]"), function (select) {
      select.addEventListener("change", function () { if (select.value) { select.form.submit(); } });
    });
    Array.prototype.forEach.call(root.querySelectorAll("form[data-check]"), function (form) {
      setUpRegions(form);
      setUpCheck(form);
    });
    Array.prototype.forEach.call(root.querySelectorAll("form[data-confirm-name]"), setUpConfirm);
    Array.prototype.forEach.call(root.querySelectorAll("form[data-key-check]"), setUpKeyCheck);
  }

  // A page with a bucket on its way polls a small status endpoint; when the status changes, the
  // page's content is fetched again and swapped in place, without a reload.
  function swapContent() {
    return fetch(window.location.href, { cache: "no-store", credentials: "same-origin" }).then(function (response) {
      if (response.redirected || !response.ok) {
        window.location.reload();
        return;
      }
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector("main");
        var current = document.querySelector("main");
        if (!fresh || !current) { return; }
        fresh = document.importNode(fresh, true);
        current.replaceWith(fresh);
        document.title = page.title;
        init(fresh);
      });
    });
  }

  function poll() {
    var main = document.querySelector("main[data-poll]");
    if (!main) { return; }
    fetch(main.getAttribute("data-poll"), {
      cache: "no-store",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return null; }
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (body && body.state !== main.getAttribute("data-poll-state")) { return swapContent(); }
    }).catch(function () { /* try again on the next tick */ }).then(function () {
      setTimeout(poll, POLL_MS);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    setTimeout(poll, POLL_MS);
  });
})();
