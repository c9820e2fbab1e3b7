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
  // Words split across lines: a header label may wrap only between words (never `environmen|t`,
  // `HT|TP`), and a name (environment, probe) never letter by letter. A word here is what lies
  // between spaces and hyphens, where a browser may break a line.
  out.brokenWords = [];
  document.querySelectorAll("table").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead tr:last-child th"), function (th) { return th.innerText.trim(); });
    var cells = Array.prototype.slice.call(table.querySelectorAll("th"));
    ["env", "environment", "environments", "probe"].forEach(function (name) {
      var at = heads.indexOf(name);
      if (at < 0) { return; }
      table.querySelectorAll("tbody tr").forEach(function (row) { if (row.children[at]) { cells.push(row.children[at]); } });
    });
    cells.forEach(function (cell) {
      var walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), text;
      while ((text = walk.nextNode())) {
        var pattern = /[^\s-]+/g, match;
        while ((match = pattern.exec(text.textContent))) {
          var word = document.createRange(); word.setStart(text, match.index); word.setEnd(text, match.index + match[0].length);
          var lines = {};
          Array.prototype.forEach.call(word.getClientRects(), function (r) { if (r.width > 0) { lines[Math.round(r.top)] = true; } });
          if (Object.keys(lines).length > 1) { out.brokenWords.push(match[0]); }
        }
      }
    });
  });
  // The first screen: the text a reviewer reads before scrolling (every text node that ends in the top
  // 900 px), in document order, so a test can ask whether what matters is there.
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), seen = [], node;
  while ((node = walker.nextNode())) {
    if (!node.textContent.trim() || node.parentElement.closest("script, style")) { continue; }
    var range = document.createRange(); range.selectNodeContents(node);
    var rect = range.getBoundingClientRect();
    if (rect.height > 0 && rect.bottom <= 900) { seen.push(node.textContent.trim()); }
  }
  out.firstScreen = seen.join(" ");
  var pre = document.createElement("pre"); pre.id = "wb-measure"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 3000); });
