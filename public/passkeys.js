// Passkeys (WebAuthn) with @simplewebauthn/browser (/vendor/simplewebauthn-browser.js,
// the global SimpleWebAuthnBrowser). Two progressive enhancements, both invisible without
// JavaScript or WebAuthn:
// - form#passkey-register on /account/two-factor: asks for registration options, lets the
//   browser create a passkey, sends it back; a stale sign-in is sent to /reauth first (a
//   password-only session of an account with a factor: to the second step).
// - [data-passkey-signin] on /login/second-factor: shown only when the account has a
//   passkey (options answer 200); the button signs in with it.
// - [data-passkey-discover] on /login (two_factor.passkey_sign_in): "Sign in with a passkey"
//   without a username or password (a discoverable passkey with user verification).
// JSON requests carry the page's CSRF token (the form's _csrf) in X-CSRF-Token.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !window.fetch || !lib.browserSupportsWebAuthn()) return;

  function post(url, token, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token, Accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
  }

  function answer(res) {
    return res
      .json()
      .catch(function () {
        return {};
      })
      .then(function (data) {
        if (!res.ok) throw new Error((data && data.error && data.error.message) || 'Something went wrong. Reload the page and try again.');
        return data;
      });
  }

  function showError(box, err) {
    if (!box) return;
    var cancelled = err && (err.name === 'NotAllowedError' || err.name === 'AbortError');
    box.textContent = cancelled ? 'The passkey request was cancelled or timed out. Try again.' : String((err && err.message) || err);
    box.hidden = false;
  }

  // ---- registering on /account/two-factor ----------------------------------------------
  var reg = document.getElementById('passkey-register');
  if (reg) {
    var regToken = reg.querySelector('input[name="_csrf"]').value;
    var regError = reg.querySelector('[data-passkey-error]');
    var regButton = reg.querySelector('button');
    var note = document.querySelector('[data-passkey-nojs]');
    reg.hidden = false;
    if (note) note.textContent = 'You may be asked for your password first.';
    reg.addEventListener('submit', function (e) {
      e.preventDefault();
      regError.hidden = true;
      regButton.disabled = true;
      post(reg.getAttribute('data-options'), regToken)
        .then(function (res) {
          // Not recent enough, or this session has not passed the account's second factor:
          // the server sent us to /reauth or the second step (fetch followed the redirect).
          if (res.redirected && (res.url.indexOf('/reauth') !== -1 || res.url.indexOf('/login/second-factor') !== -1)) {
            window.location.href = res.url;
            return null;
          }
          return answer(res);
        })
        .then(function (options) {
          if (!options) return null;
          return lib.startRegistration({ optionsJSON: options }).then(function (response) {
            var name = reg.querySelector('input[name="name"]').value;
            return post(reg.getAttribute('data-register'), regToken, { name: name, response: response }).then(answer);
          });
        })
        .then(function (done) {
          if (done) window.location.href = done.redirect || '/account/two-factor';
        })
        .catch(function (err) {
          showError(regError, err);
        })
        .then(function () {
          regButton.disabled = false;
        });
    });
  }

  // ---- the second step of sign-in -------------------------------------------------------
  var box = document.querySelector('[data-passkey-signin]');
  if (box) {
    var token = box.getAttribute('data-csrf');
    var rd = box.getAttribute('data-rd') || undefined;
    var button = box.querySelector('button');
    var error = box.querySelector('[data-passkey-error]');
    var options = null;
    var fetchedAt = 0;
    var FRESH_MS = 4 * 60 * 1000;

    function fetchOptions() {
      return post('/login/passkey/options', token, { rd: rd }).then(function (res) {
        if (res.status === 404) return null; // no passkey on this account
        return answer(res);
      });
    }

    fetchOptions()
      .then(function (o) {
        if (!o) return;
        options = o;
        fetchedAt = Date.now();
        box.hidden = false;
      })
      .catch(function () {
        /* the code form still works */
      });

    button.addEventListener('click', function () {
      error.hidden = true;
      button.disabled = true;
      var ready = options && Date.now() - fetchedAt < FRESH_MS ? Promise.resolve(options) : fetchOptions();
      options = null; // each challenge answers once
      ready
        .then(function (o) {
          if (!o) throw new Error('This account has no passkey.');
          return lib.startAuthentication({ optionsJSON: o });
        })
        .then(function (response) {
          // The code form's "Remember this device" box applies to a passkey too.
          var remember = document.querySelector('input[name="remember_device"]');
          return post('/login/passkey', token, { response: response, rd: rd, remember_device: !!(remember && remember.checked) }).then(answer);
        })
        .then(function (done) {
          window.location.href = done.redirect || '/';
        })
        .catch(function (err) {
          showError(error, err);
          button.disabled = false;
        });
    });
  }

  // ---- passwordless sign-in on /login (two_factor.passkey_sign_in) ------------------------
  var discover = document.querySelector('[data-passkey-discover]');
  if (discover) {
    var dToken = discover.getAttribute('data-csrf');
    var dRd = discover.getAttribute('data-rd') || undefined;
    var dButton = discover.querySelector('button');
    var dError = discover.querySelector('[data-passkey-error]');
    discover.hidden = false;
    dButton.addEventListener('click', function () {
      dError.hidden = true;
      dButton.disabled = true;
      post('/login/passkey/discover/options', dToken)
        .then(answer)
        .then(function (o) {
          return lib.startAuthentication({ optionsJSON: o });
        })
        .then(function (response) {
          var keep = document.querySelector('input[name="remember"]');
          return post('/login/passkey/discover', dToken, { response: response, rd: dRd, remember: !!(keep && keep.checked) }).then(answer);
        })
        .then(function (done) {
          window.location.href = done.redirect || '/';
        })
        .catch(function (err) {
          showError(dError, err);
          dButton.disabled = false;
        });
    });
  }
})();
