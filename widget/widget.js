/*!
 * Achilles FAQ chat widget: the embed. Plain ES2017 plus ES modules, no build step.
 *
 * Embed with one tag (widget/README.md "Embed it"):
 *   <script src="https://chat.example.com/widget.js" defer
 *           data-server-url="https://rasa.example.com"
 *           data-title="Questions about Achilles tendon rupture"
 *           data-color="#0b5cad"></script>
 *
 * Optional attributes: data-phone (shown if the server cannot be reached),
 * data-init-payload (sent silently to start a new conversation; default
 * "/greet"), data-storage ("session", the default: history is kept until the
 * tab is closed; or "local": kept across tabs and visits), data-socket-path
 * (default "/socket.io/"). Either way the stored history is forgotten after 30
 * minutes without activity.
 *
 * This file only reads the tag's settings (only a classic script knows its own
 * tag) and loads the widget's modules from the same folder with import(): a
 * Trusted Types CSP forbids adding <script> elements, not importing modules.
 * modules/main.js is where the widget starts; widget/README.md maps the files.
 */
(function () {
  'use strict';

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[data-server-url]');
    return all[all.length - 1] || null;
  })();
  if (!script || window.__achillesChatWidget) {
    return;
  }
  window.__achillesChatWidget = true;

  var DEFAULT_COLOR = '#0b5cad';
  var ds = script.dataset;

  function cleanServerUrl(value) {
    try {
      var url = new URL(value || '', window.location.href);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        return null;
      }
      return url.origin;
    } catch (e) {
      return null;
    }
  }

  var config = {
    serverUrl: cleanServerUrl(ds.serverUrl),
    // empty: the default title in the widget's language (modules/strings.js)
    title: (ds.title || '').slice(0, 80),
    // the widget's language: data-lang, else the page's <html lang>, else the
    // browser's; "es..." is Spanish, anything else English (modules/strings.js)
    lang: String(ds.lang || document.documentElement.lang || navigator.language || 'en').slice(0, 16),
    color: (window.CSS && CSS.supports && ds.color && CSS.supports('color', ds.color))
      ? ds.color : DEFAULT_COLOR,
    phone: (ds.phone || '').slice(0, 40),
    initPayload: ds.initPayload === undefined ? '/greet' : ds.initPayload,
    storage: ds.storage === 'local' ? 'local' : 'session',
    socketPath: /^\/[A-Za-z0-9_\-\/.]*$/.test(ds.socketPath || '') ? ds.socketPath : '/socket.io/',
    assetBase: new URL('.', script.src || window.location.href).href
  };
  if (config.socketPath.charAt(config.socketPath.length - 1) !== '/') {
    config.socketPath += '/';
  }
  if (!config.serverUrl) {
    if (window.console) {
      console.error('Chat widget: data-server-url must be an http(s) URL.');
    }
    return;
  }

  import(new URL('modules/main.js', config.assetBase).href).then(function (main) {
    main.start(config);
  }).catch(function (error) {
    if (window.console) {
      console.error('Chat widget: could not start.', error);
    }
  });
})();
