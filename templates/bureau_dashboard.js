(function () {
  "use strict";
  // The school table of the bureau dashboard: filter, sort and page the rows held in the page's JSON.
  // Every cell is written with textContent, so no school's data can become markup.
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var rows = data.rows, size = data.page_size, L = data.labels;
  var RANK = 0, ID = 1, NAME = 2, DISTRICT = 3, DNAME = 4, RATE = 5, VERDICT = 6, RISK = 7,
      UNREACH = 9, HOSTS = 10, RUN = 11, CHANGE = 12;
  var state = {q: "", district: "", verdict: "", risk: false, col: RANK, dir: 1, page: 0};
  var body = document.getElementById("school-rows"), info = document.getElementById("pageinfo");

  function val(id) { var e = document.getElementById(id); return e ? e : null; }
  function fmt(x, sign) {
    if (x === null || x === undefined) { return sign ? "" : "\u2014"; }
    return (sign && x > 0 ? "+" : "") + x.toFixed(1);
  }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }
  function matches(r) {
    if (state.district && r[DISTRICT] !== state.district) { return false; }
    if (state.verdict && r[VERDICT] !== state.verdict) { return false; }
    if (state.risk && !r[RISK]) { return false; }
    if (state.q) {
      var q = state.q;
      return (r[NAME] + " " + r[ID] + " " + r[DNAME]).toLowerCase().indexOf(q) >= 0;
    }
    return true;
  }
  function compare(a, b) {
    var x = a[state.col], y = b[state.col];
    if (x === y) { return a[RANK] - b[RANK]; }
    if (x === null || x === undefined || x === "") { return 1; }
    if (y === null || y === undefined || y === "") { return -1; }
    return (x < y ? -1 : 1) * state.dir;
  }
  function render() {
    var shown = rows.filter(matches).sort(compare);
    var pages = Math.max(1, Math.ceil(shown.length / size));
    state.page = Math.min(state.page, pages - 1);
    var frag = document.createDocumentFragment();
    shown.slice(state.page * size, (state.page + 1) * size).forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, String(r[RANK]), "num");
      var name = cell(tr, r[NAME] + " ");
      var id = document.createElement("span");
      id.className = "muted small";
      id.textContent = r[ID];
      name.appendChild(id);
      cell(tr, r[DNAME]);
      cell(tr, fmt(r[RATE]), "num");
      cell(tr, L[r[VERDICT]] || r[VERDICT], "v-" + r[VERDICT]);
      cell(tr, String(r[RISK]), "num");
      cell(tr, r[UNREACH] + "/" + r[HOSTS], "num");
      var ch = cell(tr, fmt(r[CHANGE], true), "num");
      if (r[CHANGE]) { ch.className += r[CHANGE] > 0 ? " up" : " down"; }
      cell(tr, r[RUN]);
      frag.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(frag);
    info.textContent = (state.page + 1) + " / " + pages + " \u00b7 " + shown.length + " " + L.rows;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
  }
  function on(id, ev, fn) { var e = val(id); if (e) { e.addEventListener(ev, fn); } }
  on("q", "input", function (e) { state.q = e.target.value.trim().toLowerCase(); state.page = 0; render(); });
  on("fd", "change", function (e) { state.district = e.target.value; state.page = 0; render(); });
  on("fv", "change", function (e) { state.verdict = e.target.value; state.page = 0; render(); });
  on("fh", "change", function (e) { state.risk = e.target.checked; state.page = 0; render(); });
  on("prev", "click", function () { state.page -= 1; render(); });
  on("next", "click", function () { state.page += 1; render(); });
  Array.prototype.forEach.call(document.querySelectorAll("#school-table th.sortable"), function (th) {
    th.addEventListener("click", function () {
      var col = Number(th.getAttribute("data-col"));
      state.dir = state.col === col ? -state.dir : (col === RATE || col === RISK || col === UNREACH ? -1 : 1);
      state.col = col;
      state.page = 0;
      render();
    });
  });
  render();
}());
