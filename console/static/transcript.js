// A correction is saved together with what is typed in the review panel (note,
// tags, reviewed), so a note written before correcting an intent is not lost.
(function () {
  "use strict";
  var review = document.getElementById("review-form");
  if (!review) { return; }
  function hidden(form, name, value) {
    var input = form.querySelector('input[type=hidden][name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }
  Array.prototype.forEach.call(document.querySelectorAll("form.correct"), function (form) {
    form.addEventListener("submit", function () {
      hidden(form, "with_review", "1");
      hidden(form, "note", review.elements.note.value);
      hidden(form, "tags", review.elements.tags.value);
      if (review.elements.reviewed.checked) { hidden(form, "reviewed", "1"); }
    });
  });
})();
