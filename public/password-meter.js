// Password strength meter: progressive enhancement for every <input data-strength-meter>.
// Asks POST /password/strength (CSRF token from the same form's _csrf field) 300 ms after
// typing stops and shows a <meter> with advice in a live region right after the input.
// Without JavaScript nothing changes: the server checks the password on submit anyway.
// Optional: data-strength-username="name" on the input names whose password it is;
// otherwise the form's username field is used, otherwise the signed-in user. On the setup
// page (not signed in) the form's hidden setup token goes along as X-Setup-Token.
(function () {
  'use strict';
  var LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'];
  var DELAY_MS = 300;
  var counter = 0;

  function attach(input) {
    var form = input.form;
    var csrf = form && form.querySelector('input[name="_csrf"]');
    if (!csrf || !window.fetch) return;
    var setupToken = form.querySelector('input[type="hidden"][name="token"]');
    var headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf.value };
    if (setupToken) headers['X-Setup-Token'] = setupToken.value;

    var id = 'strength-' + ++counter;
    var box = document.createElement('div');
    box.className = 'strength';
    box.id = id;
    box.hidden = true;
    box.setAttribute('aria-live', 'polite');
    var meter = document.createElement('meter');
    // Scores 0-4 shown as 1-5, so that even "very weak" fills a sliver of the bar:
    // 0-1 in the low (red) region, 2 in the middle, 3-4 in the high (good) region.
    meter.min = 0;
    meter.max = 5;
    meter.low = 2.5;
    meter.high = 3.5;
    meter.optimum = 5;
    meter.value = 0;
    meter.setAttribute('aria-label', 'Password strength');
    var text = document.createElement('p');
    text.className = 'strength-text';
    var list = document.createElement('ul');
    box.appendChild(meter);
    box.appendChild(text);
    box.appendChild(list);
    input.insertAdjacentElement('afterend', box);
    var described = input.getAttribute('aria-describedby');
    input.setAttribute('aria-describedby', described ? described + ' ' + id : id);

    var timer = null;
    var latest = 0;
    var inflight = null;

    function username() {
      if (input.dataset.strengthUsername) return input.dataset.strengthUsername;
      var field = form.querySelector('input[name="username"]');
      return field && field.value ? field.value : undefined;
    }

    function show(result) {
      var label = LABELS[result.score] || '';
      meter.value = result.score + 1;
      meter.setAttribute('aria-valuetext', label);
      text.textContent = label + (result.acceptable ? '' : ': not accepted yet');
      list.textContent = '';
      result.problems.concat(result.suggestions).slice(0, 4).forEach(function (line) {
        var item = document.createElement('li');
        item.textContent = line;
        list.appendChild(item);
      });
      box.hidden = false;
    }

    function check() {
      var password = input.value;
      var mine = ++latest;
      if (inflight) inflight.abort();
      if (!password) {
        box.hidden = true;
        return;
      }
      inflight = window.AbortController ? new AbortController() : null;
      fetch('/password/strength', {
        method: 'POST',
        credentials: 'same-origin',
        headers: headers,
        body: JSON.stringify({ password: password, username: username() }),
        signal: inflight ? inflight.signal : undefined,
      })
        .then(function (res) {
          return res.ok ? res.json() : null;
        })
        .then(function (result) {
          // Answers can overtake each other: only the newest one counts.
          if (mine !== latest) return;
          if (result && typeof result.score === 'number') show(result);
          else box.hidden = true;
        })
        .catch(function () {
          if (mine === latest) box.hidden = true;
        });
    }

    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(check, DELAY_MS);
    });
  }

  var inputs = document.querySelectorAll('input[data-strength-meter]');
  for (var i = 0; i < inputs.length; i++) attach(inputs[i]);
})();
