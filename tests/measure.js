// What a reviewer would see, measured by the layout engine after the page loaded and its charts were
// drawn (virtual time), written into the DOM for `--dump-dom` to carry out (tests/browser.py, measure).
window.addEventListener("load", function () { setTimeout(function () {
  var main = document.querySelector("main") || document.body, mainBox = main.getBoundingClientRect();
  var out = {
    title: document.title, width: window.innerWidth, height: document.documentElement.scrollHeight,
    header: (document.querySelector("header.wb-header") || {innerText: ""}).innerText,
    pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    tables: [], charts: []
  };
  document.querySelectorAll("table").forEach(function (table) {
    var box = table.getBoundingClientRect(), container = table.parentElement;
    var cells = Array.prototype.map.call(table.querySelectorAll("td, th"), function (c) { return c.innerText.trim(); });
    var firsts = Array.prototype.map.call(table.querySelectorAll("tbody tr"), function (row) {
      var first = row.querySelector("th, td"); return first ? first.innerText.trim() : "";
    });
    out.tables.push({
      heading: (function (cell) {
        for (; cell; cell = cell.previousElementSibling) {
          var found = cell.querySelectorAll("h1, h2, h3"); if (found.length) { return found[found.length - 1].innerText; }
        }
        return "";
      })(table.closest(".jp-Cell")),
      overflow: Math.max(box.right - mainBox.right, table.offsetWidth - container.clientWidth,
                         container.scrollWidth - container.clientWidth),
      cells: cells, firsts: firsts
    });
  });
  document.querySelectorAll(".wb-chart").forEach(function (chart) {
    out.charts.push({drawn: !!chart.querySelector("svg.marks"), overflow: chart.getBoundingClientRect().right - mainBox.right});
  });
  var pre = document.createElement("pre"); pre.id = "wb-measure"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 3000); });
