// The task chooser's search box: typing filters the task dropdown (words match anywhere in the
// task's dotted name); Enter picks the first match. No build step, no dependency.
(function () {
  "use strict";
  function wire(box) {
    var select = document.getElementById(box.getAttribute("data-for"));
    if (!select) { return; }
    var options = Array.prototype.slice.call(select.options);
    var count = box.parentNode.querySelector(".djq-task-search-count");
    function filter() {
      var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      options.forEach(function (option) {
        var text = (option.value + " " + option.text).toLowerCase();
        var match = !option.value || words.every(function (w) { return text.indexOf(w) !== -1; });
        option.hidden = !match;
        option.disabled = !match && option.value !== select.value;
        if (match && option.value) { shown += 1; }
      });
      if (count) { count.textContent = words.length ? shown + " match" + (shown === 1 ? "" : "es") : ""; }
      return words.length ? options.filter(function (o) { return o.value && !o.hidden; }) : [];
    }
    box.addEventListener("input", filter);
    box.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      var matches = filter();
      if (matches.length) {
        select.value = matches[0].value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("input.djq-task-search"), wire);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
