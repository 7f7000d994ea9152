// caresearch: small progressive enhancements. Every page works without this file.
// The handout basket lives in localStorage under one key: {items: [{id, memo}], title,
// meeting, date, key}. Ids are passage ids (a case id stands for the case in brief); `key`
// marks the handout addresses this browser writes (basket=<key>), so that an address copied
// to a colleague is taken there as a shared link, joining their basket, never replacing it.
(function () {
  "use strict";
  var KEY = "caresearch.handout.v1";
  var MAX_ITEMS = 100;

  function load() {
    var data = {};
    try {
      data = JSON.parse(window.localStorage.getItem(KEY) || "{}") || {};
    } catch (e) {
      data = {};
    }
    if (!Array.isArray(data.items)) data.items = [];
    data.items = data.items.filter(function (it) { return it && typeof it.id === "string"; });
    return data;
  }

  function save(data) {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(data));
    } catch (e) { /* storage full or disabled: the page still works for this visit */ }
    showCount(data);
  }

  function indexOf(data, id) {
    for (var i = 0; i < data.items.length; i++) if (data.items[i].id === id) return i;
    return -1;
  }

  // The address of the handout page showing `data` (this browser's basket).
  function handoutUrl(data) {
    var base = document.querySelector(".nav a[href$='/handout']");
    var url = new URL(base ? base.getAttribute("href") : "/handout", window.location.href);
    url.search = "";
    data.items.forEach(function (it) { url.searchParams.append("item", it.id); });
    if (data.items.length) {
      if (!data.key) {
        data.key = "b" + Math.random().toString(36).slice(2, 10);  // never the old "1"
        save(data);
      }
      url.searchParams.set("basket", data.key);
    }
    return url;
  }

  function showCount(data) {
    document.querySelectorAll("[data-basket-count]").forEach(function (el) {
      el.textContent = data.items.length ? "（" + data.items.length + "件）" : "";
      el.hidden = !data.items.length;
    });
  }

  // --- 「配布資料に追加」 buttons in place of the checkboxes -------------------------------

  // the button's own words, from the template (data-button: 配布資料に追加, 事例の概要を…)
  function setButton(button, added, full) {
    var text = button.getAttribute("data-button");
    button.setAttribute("aria-pressed", added ? "true" : "false");
    button.firstChild.textContent = added ? text + "済み（外す）" : full ? "配布資料は100件までです" : text;
    button.classList.toggle("added", added);
  }

  function addButtons() {
    var data = load();
    document.querySelectorAll("input[data-pick]").forEach(function (input) {
      var label = input.closest("label");
      var id = input.value;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "add-button";
      button.setAttribute("data-add", id);
      button.setAttribute("data-button", input.getAttribute("data-button"));
      button.appendChild(document.createTextNode(""));
      var what = input.getAttribute("data-what");
      if (what) {
        var hidden = document.createElement("span");
        hidden.className = "visually-hidden";
        hidden.textContent = "（" + what + "）";
        button.appendChild(hidden);
      }
      setButton(button, indexOf(data, id) >= 0, false);
      button.addEventListener("click", function () {
        var d = load();
        var i = indexOf(d, id);
        if (i >= 0) {
          d.items.splice(i, 1);
        } else if (d.items.length < MAX_ITEMS) {
          d.items.push({ id: id, memo: "" });
        } else {
          setButton(button, false, true);
          return;
        }
        save(d);
        document.querySelectorAll("[data-add]").forEach(function (b) {
          if (b.getAttribute("data-add") === id) setButton(b, i < 0, false);
        });
      });
      input.checked = false;
      label.hidden = true;
      label.insertAdjacentElement("afterend", button);
    });
    document.querySelectorAll("[data-handout-bar]").forEach(function (bar) {
      bar.textContent = "";
      var link = document.createElement("a");
      link.className = "button button-secondary";
      link.href = handoutUrl(load()).pathname;
      link.textContent = "配布資料を開く";
      bar.appendChild(link);
    });
  }

  // --- the handout page: basket → page, edits → basket ------------------------------------

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-handout-items] > li"));
  }

  function rowId(row) { return row.getAttribute("data-item"); }

  function syncFromPage() {
    var d = load();
    var memos = {};
    d.items.forEach(function (it) { memos[it.id] = it.memo || ""; });
    d.items = rows().map(function (row) {
      var memo = row.querySelector("[data-memo]");
      return { id: rowId(row), memo: memo ? memo.value : memos[rowId(row)] || "" };
    });
    document.querySelectorAll("[data-handout-field]").forEach(function (field) {
      d[field.getAttribute("data-handout-field")] = field.value;
    });
    save(d);
    window.history.replaceState(null, "", handoutUrl(d).href);
    mirror();
  }

  // 2025-04-01 → 2025年4月1日, as the downloads write it (render.py, _meta)
  function japaneseDate(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    return m ? Number(m[1]) + "年" + Number(m[2]) + "月" + Number(m[3]) + "日" : value;
  }

  function mirror() {
    var get = function (name) {
      var el = document.querySelector("[data-handout-field='" + name + "']");
      return el ? el.value.trim() : "";
    };
    var title = document.querySelector("[data-print='title']");
    if (title) title.textContent = get("title");
    var meta = document.querySelector("[data-print='meta']");
    if (meta) meta.textContent = [get("meeting"), japaneseDate(get("date"))].filter(Boolean).join("・");
    var previous = null;
    rows().forEach(function (row, i) {
      var memo = row.querySelector("[data-memo]");
      var print = row.querySelector("[data-memo-print]");
      if (memo && print) print.textContent = memo.value.trim() ? "メモ: " + memo.value.trim() : "";
      var kase = row.getAttribute("data-case");
      row.classList.toggle("new-case", i > 0 && kase !== previous);
      previous = kase;
      row.querySelectorAll("[data-move='up']").forEach(function (b) { b.disabled = i === 0; });
      row.querySelectorAll("[data-move='down']").forEach(function (b) { b.disabled = i === rows().length - 1; });
    });
  }

  function rowButton(label, move, what) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button button-secondary button-small";
    b.setAttribute("data-move", move);
    b.appendChild(document.createTextNode(label));
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = "（" + what + "）";
    b.appendChild(hidden);
    return b;
  }

  // What the last merge of a link into the basket undoes, for this tab only.
  var UNDO_KEY = "caresearch.handout.undo";

  function remember(key, value) {
    try {
      window.sessionStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* no session storage: the merge is not announced */ }
  }

  function showMerged() {
    var merged = null;
    try {
      merged = JSON.parse(window.sessionStorage.getItem(UNDO_KEY) || "null");
      window.sessionStorage.removeItem(UNDO_KEY);
    } catch (e) { merged = null; }
    var heading = document.querySelector("h1");
    if (!merged || !heading) return;
    var note = document.createElement("p");
    note.className = "notice no-print";
    note.setAttribute("role", "status");
    heading.insertAdjacentElement("afterend", note);
    if (merged.undone) {
      note.textContent = "追加を取り消しました（元の " + merged.undone + " 件に戻しました）。";
      return;
    }
    if (merged.full && (!merged.added || !merged.added.length)) {
      note.textContent = "配布資料は" + MAX_ITEMS + "件までのため、共有されたリンクの項目 " +
        merged.full + " 件を加えられませんでした。";
      return;
    }
    if (!merged.added || !merged.added.length) {
      note.textContent = "共有されたリンクの項目は、すでにあなたの配布資料に入っています。";
      return;
    }
    note.appendChild(document.createTextNode(
      "共有されたリンクの項目 " + merged.added.length + " 件を、あなたの配布資料（これまでの " +
      merged.had + " 件）に加えました。" + (merged.full ? "（" + MAX_ITEMS + "件までのため " +
      merged.full + " 件は加えていません）" : "")));
    var back = document.createElement("button");
    back.type = "button";
    back.className = "button button-secondary button-small";
    back.textContent = "追加を取り消す";
    back.addEventListener("click", function () {
      // only the link's items go: what was typed since (memos, 会議名) stays
      var d = load();
      d.items = d.items.filter(function (it) { return merged.added.indexOf(it.id) < 0; });
      save(d);
      remember(UNDO_KEY, { undone: d.items.length });
      window.location.replace(handoutUrl(d).href);
    });
    note.appendChild(back);
    return back;
  }

  function showItemCount() {
    document.querySelectorAll("[data-handout-count]").forEach(function (count) {
      count.textContent = String(rows().length);
    });
  }

  // 「削除」 says what it took out, memo and all, and puts it back where it stood on
  // 「元に戻す」 (the row keeps its memo while it is out).
  function showRemoved(row, at, what) {
    var list = document.querySelector("[data-handout-items]");
    var note = document.querySelector("[data-handout-removed]");
    if (!note) {
      note = document.createElement("p");
      note.className = "notice notice-info no-print";
      note.setAttribute("role", "status");
      note.setAttribute("data-handout-removed", "");
      list.parentNode.insertBefore(note, list);
    }
    var memo = row.querySelector("[data-memo]");
    note.textContent = what + "を外しました" + (memo && memo.value.trim() ? "（メモも一緒に）" : "") + "。";
    var back = document.createElement("button");
    back.type = "button";
    back.className = "button button-secondary button-small";
    back.textContent = "元に戻す";
    back.addEventListener("click", function () {
      list.insertBefore(row, rows()[at] || null);
      note.textContent = what + "を元に戻しました。";
      syncFromPage();
      showItemCount();
      var again = row.querySelector("[data-move='remove']");
      if (again) again.focus();
    });
    note.appendChild(back);
    return back;
  }

  // 「上へ」「下へ」 say where the item now stands: nothing was heard, the focus stays put
  function sayMoved(row) {
    var said = document.querySelector("[data-handout-moved]");
    if (!said) return;
    var all = rows();
    said.textContent = (all.indexOf(row) + 1) + "番目に移動しました（全" + all.length + "件）";
  }

  // A date the field cannot send (a year past its max, a day left out) is said beside the field
  // instead of in the browser's passing bubble, and the focus goes back to it.
  function checkDate(field) {
    var message = document.createElement("p");
    message.id = field.id + "-error";
    message.className = "notice notice-error field-error";
    message.hidden = true;
    field.insertAdjacentElement("afterend", message);
    field.addEventListener("invalid", function (event) {
      event.preventDefault();
      message.textContent = "日付は" + japaneseDate(field.min) + "から" + japaneseDate(field.max) +
        "までの日を、年・月・日とも入れてください（入れないときは空にします）。";
      message.hidden = false;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", message.id);
      field.focus();
    });
    field.addEventListener("input", function () {
      if (!field.validity.valid) return;
      message.hidden = true;
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    });
  }

  function initHandout() {
    var form = document.querySelector("[data-handout-form]");
    var empty = document.querySelector("[data-handout-empty]");
    if (!form && !empty) return;
    var d = load();
    var params = new URLSearchParams(window.location.search);
    // this browser's own address (another's basket=… is a shared link like any other)
    var fromBasket = !!d.key && params.get("basket") === d.key;
    var shown = rows().map(rowId);
    var ids = d.items.map(function (it) { return it.id; }).join();
    if (fromBasket && params.getAll("item").join() !== ids) {
      // an address of one's basket as it was (a bookmark, a tab left open): show it as it is,
      // or the page's older items would be saved over the newer basket
      window.location.replace(handoutUrl(d).href);
      return;
    }
    // ... and so when another tab changes the basket
    window.addEventListener("storage", function (e) {
      if (e.key === KEY) window.location.replace(handoutUrl(load()).href);
    });
    if (!fromBasket) {
      // Ticked without the basket (or a shared link): add those to the basket, then show it all,
      // saying so when the basket had other items (a colleague's link joins one's own).
      var had = d.items.length;
      var added = [];
      var full = 0;  // not added: the basket holds MAX_ITEMS
      shown.forEach(function (id) {
        if (indexOf(d, id) >= 0) return;
        if (d.items.length < MAX_ITEMS) {
          d.items.push({ id: id, memo: "" });
          added.push(id);
        } else {
          full += 1;
        }
      });
      save(d);
      if (d.items.length && d.items.map(function (it) { return it.id; }).join() !== shown.join()) {
        if (had && shown.length) remember(UNDO_KEY, { had: had, added: added, full: full });
        window.location.replace(handoutUrl(d).href);
        return;
      }
    }
    showMerged();
    if (!form) {
      if (fromBasket) {
        save({ items: [], title: d.title, meeting: d.meeting, date: d.date, key: d.key });
      }
      return;
    }
    // the buttons that reorder items come with this script: so does the line that names them
    document.querySelectorAll("[data-order-hint]").forEach(function (hint) {
      hint.hidden = false;
    });
    document.querySelectorAll("[data-handout-field]").forEach(function (field) {
      var saved = d[field.getAttribute("data-handout-field")];
      if (saved) field.value = saved;
      field.addEventListener("input", syncFromPage);
      if (field.type === "date") checkDate(field);
    });
    // Enter in 題名, 会議名 or the date downloads nothing: the page's disabled first button stops
    // it in the text fields, but Chrome's date field passes over it to the next button
    form.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.target.tagName !== "INPUT") return;
      if (event.isComposing || event.keyCode === 229) return;  // the IME's Enter picks the kanji
      event.preventDefault();
    });
    var moved = document.createElement("p");
    moved.className = "visually-hidden";
    moved.setAttribute("role", "status");  // polite: after the button's own name
    moved.setAttribute("data-handout-moved", "");
    form.appendChild(moved);
    rows().forEach(function (row) {
      var saved = d.items[indexOf(d, rowId(row))];
      var memo = row.querySelector("[data-memo]");
      if (memo && saved && saved.memo) memo.value = saved.memo;
      if (memo) memo.addEventListener("input", syncFromPage);
      // its town, section and first words (the page's data-what): three lessons of one section
      // sounded alike
      var what = row.getAttribute("data-what");
      var box = document.createElement("div");
      box.className = "item-actions no-print";
      var up = rowButton("上へ", "up", what);
      var down = rowButton("下へ", "down", what);
      var remove = rowButton("削除", "remove", what);
      // focus stays on the button pressed, or on the other one when the item reached an end
      // (a disabled button takes no focus: it fell to the page, and the ring was gone)
      up.addEventListener("click", function () {
        if (row.previousElementSibling) row.parentNode.insertBefore(row, row.previousElementSibling);
        syncFromPage();
        (up.disabled ? down : up).focus();
        sayMoved(row);
      });
      down.addEventListener("click", function () {
        if (row.nextElementSibling) row.parentNode.insertBefore(row.nextElementSibling, row);
        syncFromPage();
        (down.disabled ? up : down).focus();
        sayMoved(row);
      });
      remove.addEventListener("click", function () {
        var last = rows().length === 1;
        if (last && !window.confirm("最後の項目を外すと、配布資料は空になります（メモも消えます）。外しますか？")) return;
        var at = rows().indexOf(row);
        row.parentNode.removeChild(row);
        syncFromPage();
        showItemCount();
        if (last) {
          window.location.replace(handoutUrl(load()).href);
          return;
        }
        // focus on 「元に戻す」: on the next item's 「削除」, a second Enter took that one too
        showRemoved(row, at, what).focus();
      });
      box.appendChild(up);
      box.appendChild(down);
      box.appendChild(remove);
      row.appendChild(box);
    });
    var actions = document.querySelector("[data-handout-actions]");
    if (actions) {
      var print = document.createElement("button");
      print.type = "button";
      print.className = "button button-secondary";
      print.textContent = "印刷する（A4）";
      print.addEventListener("click", function () { window.print(); });
      actions.appendChild(print);
    }
    syncFromPage();
  }

  // --- small things -------------------------------------------------------------------------

  function addCopyButtons() {
    if (!navigator.clipboard) return;
    document.querySelectorAll("a[data-copy-link]").forEach(function (link) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = "リンクをコピー";
      button.addEventListener("click", function () {
        var url = new URL(link.getAttribute("href"), window.location.href).href;
        navigator.clipboard.writeText(url).then(
          function () { button.textContent = "コピーしました"; },
          function () { button.textContent = "コピーできませんでした"; }
        );
      });
      link.insertAdjacentElement("afterend", button);
    });
  }

  function openFiltersOnWideScreens() {
    if (!window.matchMedia("(min-width: 48rem)").matches) return;
    document.querySelectorAll("details[data-fold-wide]").forEach(function (d) { d.open = true; });
  }

  // A link to a part of a page that folds its content (a search hit found only in a case's
  // figure text links to #figures; 「詳しく」 to #source) opens the fold it points at.
  function openLinkedFold() {
    var id = window.location.hash.slice(1);
    var target = id && document.getElementById(id);
    var fold = target && target.querySelector("details");
    if (fold) fold.open = true;
  }

  // A text box with a limit (data-max-chars, the server's setting) counts what is typed and
  // says so past the limit, instead of cutting it as maxlength would: the text stays to shorten.
  function countChars() {
    document.querySelectorAll("textarea[data-max-chars]").forEach(function (box) {
      var max = Number(box.getAttribute("data-max-chars"));
      var counter = document.createElement("p");
      counter.className = "hint char-count";
      var warning = document.createElement("p");
      warning.className = "hint notice-error";
      warning.setAttribute("role", "status");  // said once when the limit is crossed, not per key
      box.insertAdjacentElement("afterend", counter);
      counter.insertAdjacentElement("afterend", warning);
      var refused = box.getAttribute("aria-invalid") === "true";  // the server's error, till edited
      function update() {
        // a line break goes as two characters (\r\n) and the server counts it as one
        var length = box.value.replace(/\r\n/g, "\n").length;
        var over = length > max;
        counter.textContent = length + " / " + max + "文字";
        warning.textContent = over ? max + "文字を超えています。短くまとめてください。" : "";
        warning.hidden = !over;
        box.setAttribute("aria-invalid", over || refused ? "true" : "false");
        return over;
      }
      box.addEventListener("input", function () {
        refused = false;
        update();
      });
      box.form.addEventListener("submit", function (event) {
        if (update()) {
          event.preventDefault();
          box.focus();
        }
      });
      update();
    });
  }

  // Ctrl+Enter (⌘+Enter) in a text box sends its form, as in mail and chat: keyboard users
  // need not Tab to the button. Not while the IME is converting (its Enter picks the kanji),
  // nor when held down; the form's own checks (the character limit) still apply: it is sent
  // as the button sends it.
  function submitOnCtrlEnter() {
    document.querySelectorAll("textarea[data-submit-keys]").forEach(function (box) {
      box.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || !box.form) return;
        if (event.isComposing || event.keyCode === 229 || event.repeat) return;
        var button = box.form.querySelector("[type='submit']");
        if (!button) return;
        event.preventDefault();
        button.click();
      });
    });
  }

  window.addEventListener("hashchange", openLinkedFold);
  document.addEventListener("DOMContentLoaded", function () {
    showCount(load());
    openFiltersOnWideScreens();
    openLinkedFold();
    addButtons();
    addCopyButtons();
    initHandout();
    countChars();
    submitOnCtrlEnter();
  });
})();
