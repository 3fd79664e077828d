/*!
 * Achilles FAQ chat widget. Plain ES2017, no dependencies, no build step.
 *
 * Embed with one tag (README "Website widget: how to embed"):
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
 * Security: message text is put into the page only with textContent and DOM
 * nodes (never innerHTML); links are limited to http(s) and tel:. The session
 * id is minted and signed by the server. Answers to the appointment form and
 * the bot messages that repeat them (marked "private_reply" / "private" by the
 * server) are shown but never written to browser storage.
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

  // ---------------------------------------------------------------- config
  var DEFAULT_COLOR = '#0b5cad';
  var MAX_INPUT_CHARS = 1000;
  var MAX_STORED_MESSAGES = 200;
  var REPLY_TIMEOUT_MS = 45000;
  var IDLE_EXPIRY_MS = 30 * 60 * 1000; // stored history is forgotten after this long idle
  var NOT_KEPT = '(Not saved on this device, for your privacy.)';
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
    title: (ds.title || 'Questions about Achilles tendon rupture').slice(0, 80),
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

  // ------------------------------------------------------------ persistence
  // One record per chat server: {v, sessionId, open, t (last activity, ms),
  // privateReply, messages: [...]}. Version 2: server-signed session ids, no
  // form answers; older records are removed unread.
  var STORE_KEY = 'achilles-chat:' + config.serverUrl;
  var STORE_VERSION = 2;

  function pickStorage() {
    try {
      var s = config.storage === 'local' ? window.localStorage : window.sessionStorage;
      var probe = STORE_KEY + ':probe';
      s.setItem(probe, '1');
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null; // storage blocked: the conversation lives as long as the page
    }
  }
  var storage = pickStorage();

  function validButtons(list) {
    if (!Array.isArray(list)) {
      return [];
    }
    return list.filter(function (b) {
      return b && typeof b.title === 'string' && typeof b.payload === 'string' &&
        b.title.length > 0 && b.payload.length > 0 && b.payload.length <= 200;
    }).slice(0, 10).map(function (b) {
      return { title: b.title.slice(0, 80), payload: b.payload };
    });
  }

  function freshState(open) {
    // no session id yet: the server mints one on session_request
    return { v: STORE_VERSION, sessionId: null, open: open === true, t: Date.now(),
      privateReply: false, messages: [] };
  }

  function forgetStored() {
    try {
      storage.removeItem(STORE_KEY);
    } catch (e) { /* nothing stored */ }
  }

  function loadState() {
    var fresh = freshState(false);
    if (!storage) {
      return fresh;
    }
    try {
      var raw = JSON.parse(storage.getItem(STORE_KEY) || 'null');
      if (!raw) {
        return fresh;
      }
      if (raw.v !== STORE_VERSION || typeof raw.t !== 'number' ||
          Date.now() - raw.t > IDLE_EXPIRY_MS || !Array.isArray(raw.messages) ||
          (raw.sessionId !== null && (typeof raw.sessionId !== 'string' ||
            !/^[A-Za-z0-9_-]{16,128}$/.test(raw.sessionId)))) {
        forgetStored(); // expired, or an older format that may hold form answers
        return fresh;
      }
      return {
        v: STORE_VERSION,
        sessionId: raw.sessionId,
        open: raw.open === true,
        t: raw.t,
        privateReply: raw.privateReply === true,
        messages: raw.messages.filter(function (m) {
          return m && (m.role === 'bot' || m.role === 'user') && typeof m.text === 'string';
        }).map(function (m) {
          return { role: m.role, text: m.text, buttons: validButtons(m.buttons) };
        })
      };
    } catch (e) {
      return fresh;
    }
  }

  var state = loadState();

  // What may be written to storage: private messages become a placeholder.
  function storable(m) {
    if (m.private) {
      return { role: m.role, text: NOT_KEPT, buttons: [] };
    }
    return { role: m.role, text: m.text, buttons: m.buttons };
  }

  function saveState() {
    if (!storage) {
      return;
    }
    state.messages = state.messages.slice(-MAX_STORED_MESSAGES);
    try {
      storage.setItem(STORE_KEY, JSON.stringify({
        v: STORE_VERSION, sessionId: state.sessionId, open: state.open, t: state.t,
        privateReply: state.privateReply, messages: state.messages.map(storable)
      }));
    } catch (e) { /* quota: keep going without saving */ }
  }

  function touch() {
    state.t = Date.now();
  }

  // ------------------------------------------------- tiny socket.io client
  // Socket.IO protocol v5 over Engine.IO v4, WebSocket transport only: enough
  // for two events each way. Reconnects with capped, jittered back-off.
  function SocketClient(baseUrl, path, handlers) {
    this.url = baseUrl.replace(/^http/, 'ws') + path + '?EIO=4&transport=websocket';
    this.handlers = handlers;
    this.ws = null;
    this.connected = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.pingWindow = 45000;
    this.stopped = true;
  }

  SocketClient.prototype.start = function () {
    if (!this.stopped) {
      return;
    }
    this.stopped = false;
    this.open();
  };

  SocketClient.prototype.open = function () {
    var self = this;
    clearTimeout(this.retryTimer);
    var ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onmessage = function (event) {
      if (self.ws === ws && typeof event.data === 'string') {
        self.onPacket(event.data);
      }
    };
    ws.onclose = function () {
      if (self.ws === ws) {
        self.lost();
      }
    };
    ws.onerror = function () { /* onclose follows */ };
  };

  SocketClient.prototype.armHeartbeat = function () {
    var self = this;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(function () {
      if (self.ws) {
        self.ws.close(); // the server went silent: reconnect
      }
    }, this.pingWindow);
  };

  SocketClient.prototype.onPacket = function (data) {
    var type = data.charAt(0);
    if (type === '0') { // Engine.IO open
      try {
        var info = JSON.parse(data.slice(1));
        this.pingWindow = (Number(info.pingInterval) || 25000) + (Number(info.pingTimeout) || 20000);
      } catch (e) { /* keep the default */ }
      this.armHeartbeat();
      this.ws.send('40'); // connect to the default namespace
    } else if (type === '2') { // ping
      this.armHeartbeat();
      this.ws.send('3');
    } else if (type === '1') { // close
      this.ws.close();
    } else if (type === '4') { // a Socket.IO packet
      this.onSocketIOPacket(data.slice(1));
    }
  };

  SocketClient.prototype.onSocketIOPacket = function (packet) {
    var type = packet.charAt(0);
    if (type === '0') {
      this.connected = true;
      this.attempt = 0;
      this.handlers.connect();
    } else if (type === '2') {
      var body = packet.slice(1).replace(/^\d+/, ''); // drop an ack id if any
      var args;
      try {
        args = JSON.parse(body);
      } catch (e) {
        return;
      }
      if (Array.isArray(args) && typeof args[0] === 'string') {
        this.handlers.event(args[0], args[1]);
      }
    } else if (type === '1' || type === '4') { // disconnected / refused
      this.ws.close();
    }
  };

  SocketClient.prototype.emit = function (event, data) {
    if (!this.connected || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return false;
    }
    this.ws.send('42' + JSON.stringify([event, data]));
    return true;
  };

  SocketClient.prototype.lost = function () {
    var wasConnected = this.connected;
    this.connected = false;
    this.ws = null;
    clearTimeout(this.heartbeatTimer);
    this.handlers.disconnect(wasConnected);
    this.scheduleRetry();
  };

  SocketClient.prototype.scheduleRetry = function () {
    if (this.stopped) {
      return;
    }
    var self = this;
    var delay = Math.min(30000, 1000 * Math.pow(2, this.attempt)) * (0.75 + Math.random() * 0.5);
    this.attempt = Math.min(this.attempt + 1, 5);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () { self.open(); }, delay);
  };

  SocketClient.prototype.retryNow = function () {
    if (!this.stopped && !this.ws) {
      this.attempt = 0;
      this.open();
    }
  };

  // ------------------------------------------------------ safe rich text
  // Markdown-lite: **bold**, "- " lists, line breaks, http(s) links and phone
  // numbers (tel: links). Only DOM APIs and textContent.
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var LINK_OR_PHONE = /(https?:\/\/[^\s<>"']+)|((?:\+?1[\s.\-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4})(?!\d)/g;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function trimUrl(url) {
    // Drop punctuation that ends a sentence rather than the address.
    while (/[.,;:!?'")\]]$/.test(url)) {
      var last = url.charAt(url.length - 1);
      if (last === ')' && (url.split('(').length > url.split(')').length - 1)) {
        break;
      }
      url = url.slice(0, -1);
    }
    return url;
  }

  function safeHttpUrl(text) {
    try {
      var url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    LINK_OR_PHONE.lastIndex = 0;
    while ((match = LINK_OR_PHONE.exec(text)) !== null) {
      var start = match.index;
      var raw = match[0];
      var link = null;
      if (match[1]) {
        raw = trimUrl(raw);
        var href = safeHttpUrl(raw);
        if (href) {
          link = el('a', 'achw-link', raw);
          link.href = href;
          link.target = '_blank';
          link.rel = 'noopener noreferrer';
        }
      } else if (start === 0 || !/[\d]/.test(text.charAt(start - 1))) {
        var digits = raw.replace(/\D/g, '').slice(-10);
        link = el('a', 'achw-link', raw);
        link.href = 'tel:+1' + digits;
      }
      if (!link) {
        continue;
      }
      if (start > last) {
        parent.appendChild(document.createTextNode(text.slice(last, start)));
      }
      parent.appendChild(link);
      last = start + raw.length;
      LINK_OR_PHONE.lastIndex = last;
    }
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function appendInline(parent, text) {
    var parts = text.split('**');
    if (parts.length % 2 === 0) { // an unmatched "**" stays literal
      var tail = parts.pop();
      parts[parts.length - 1] += '**' + tail;
    }
    parts.forEach(function (part, i) {
      if (!part) {
        return;
      }
      if (i % 2 === 1) {
        var strong = el('strong');
        appendLinkified(strong, part);
        parent.appendChild(strong);
      } else {
        appendLinkified(parent, part);
      }
    });
  }

  function renderRichText(parent, text) {
    var lines = String(text).replace(/\r\n?/g, '\n').split('\n');
    var paragraph = null;
    var list = null;
    lines.forEach(function (line) {
      var item = /^\s*[-\u2022]\s+(.*)$/.exec(line);
      if (item) {
        paragraph = null;
        if (!list) {
          list = el('ul');
          parent.appendChild(list);
        }
        var li = el('li');
        appendInline(li, item[1]);
        list.appendChild(li);
        return;
      }
      list = null;
      if (!line.trim()) {
        paragraph = null;
        return;
      }
      if (paragraph) {
        paragraph.appendChild(el('br'));
      } else {
        paragraph = el('p');
        parent.appendChild(paragraph);
      }
      appendInline(paragraph, line);
    });
  }

  function icon(kind) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '24');
    svg.setAttribute('height', '24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', 'achw-icon achw-icon-' + kind);
    svg.setAttribute('focusable', 'false');
    var path = document.createElementNS(SVG_NS, 'path');
    var shapes = {
      chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
      close: 'M6 6l12 12M18 6L6 18',
      send: 'M3 20l18-8L3 4v6l12 2-12 2z'
    };
    path.setAttribute('d', shapes[kind]);
    if (kind === 'close') {
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', 'currentColor');
      path.setAttribute('stroke-width', '2.2');
      path.setAttribute('stroke-linecap', 'round');
    } else {
      path.setAttribute('fill', 'currentColor');
    }
    svg.appendChild(path);
    return svg;
  }

  // Text on the brand colour: white or near-black, whichever reads better.
  function contrastText(color) {
    var probe = el('span');
    probe.style.color = color;
    probe.hidden = true;
    document.body.appendChild(probe);
    var rgb = (getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || [0, 0, 0]).map(Number);
    probe.remove();
    var lum = rgb.slice(0, 3).map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? '#ffffff' : '#111111';
  }

  // ------------------------------------------------------------------- UI
  var host = el('div');
  host.id = 'achilles-chat-widget';
  host.hidden = true; // shown once the stylesheet has loaded
  var root = host.attachShadow({ mode: 'open' });

  var stylesheet = el('link');
  stylesheet.rel = 'stylesheet';
  stylesheet.href = config.assetBase + 'widget.css';
  stylesheet.addEventListener('load', function () { host.hidden = false; });
  stylesheet.addEventListener('error', function () { host.hidden = false; });

  var wrapper = el('div', 'achw');
  var panelId = 'achw-panel';

  var launcher = el('button', 'achw-launcher');
  launcher.type = 'button';
  launcher.setAttribute('aria-label', 'Chat: ' + config.title);
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', panelId);
  launcher.appendChild(icon('chat'));
  launcher.appendChild(icon('close')); // shown while the panel is open

  var panel = el('section', 'achw-panel');
  panel.id = panelId;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'achw-title');
  panel.hidden = true;

  var header = el('header', 'achw-header');
  var heading = el('h2', 'achw-title', config.title);
  heading.id = 'achw-title';
  var restart = el('button', 'achw-restart', 'Start over');
  restart.type = 'button';
  restart.setAttribute('aria-label', 'Start over: clear this conversation');
  var closeButton = el('button', 'achw-close');
  closeButton.type = 'button';
  closeButton.setAttribute('aria-label', 'Close chat');
  closeButton.appendChild(icon('close'));
  header.appendChild(heading);
  header.appendChild(restart);
  header.appendChild(closeButton);

  var status = el('p', 'achw-status');
  status.setAttribute('role', 'status');

  var log = el('div', 'achw-log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.setAttribute('aria-relevant', 'additions');
  log.setAttribute('aria-label', 'Conversation');
  log.tabIndex = 0; // scrollable with the keyboard

  var typing = el('div', 'achw-typing');
  typing.hidden = true;
  var typingLabel = el('span', 'achw-visually-hidden', 'The assistant is typing');
  typing.appendChild(typingLabel);
  for (var dot = 0; dot < 3; dot++) {
    var d = el('span', 'achw-dot');
    d.setAttribute('aria-hidden', 'true');
    typing.appendChild(d);
  }

  var form = el('form', 'achw-form');
  var inputLabel = el('label', 'achw-visually-hidden', 'Type your question');
  inputLabel.htmlFor = 'achw-input';
  var input = el('input', 'achw-input');
  input.id = 'achw-input';
  input.type = 'text';
  input.autocomplete = 'off';
  input.maxLength = MAX_INPUT_CHARS;
  input.placeholder = 'Type your question…';
  var send = el('button', 'achw-send');
  send.type = 'submit';
  send.setAttribute('aria-label', 'Send');
  send.appendChild(icon('send'));
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(send);

  var note = el('p', 'achw-note', 'Automated assistant. Not medical advice. In an emergency, call 911.');

  panel.appendChild(header);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  panel.appendChild(note);
  wrapper.appendChild(panel);
  wrapper.appendChild(launcher);
  root.appendChild(stylesheet);
  root.appendChild(wrapper);

  // ------------------------------------------------------------ messages
  var activeReplies = null; // the quick-reply group that can still be used

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function removeQuickReplies() {
    if (activeReplies) {
      activeReplies.remove();
      activeReplies = null;
    }
  }

  function renderQuickReplies(buttons) {
    removeQuickReplies();
    if (!buttons.length) {
      return;
    }
    var group = el('div', 'achw-replies');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', 'Suggested questions');
    buttons.forEach(function (b) {
      var button = el('button', 'achw-reply', b.title);
      button.type = 'button';
      button.addEventListener('click', function () {
        sendUserMessage(b.payload, b.title);
        input.focus();
      });
      group.appendChild(button);
    });
    log.appendChild(group);
    activeReplies = group;
  }

  function renderMessage(message) {
    removeQuickReplies();
    var bubble = el('div', 'achw-msg achw-msg-' + message.role);
    var who = el('span', 'achw-visually-hidden', message.role === 'user' ? 'You said: ' : 'Assistant: ');
    bubble.appendChild(who);
    if (message.role === 'bot' || message.role === 'note') {
      renderRichText(bubble, message.text);
    } else {
      bubble.appendChild(el('p', null, message.text));
    }
    log.appendChild(bubble);
    if (message.buttons && message.buttons.length) {
      renderQuickReplies(message.buttons);
    }
    scrollToEnd();
  }

  function renderHistory() {
    log.textContent = '';
    activeReplies = null;
    state.messages.forEach(function (m, i) {
      var isLast = i === state.messages.length - 1;
      renderMessage({ role: m.role, text: m.text, buttons: isLast ? m.buttons : [] });
    });
  }

  function addMessage(message) {
    if (config.storage === 'local') {
      // another tab of this site may have added messages since we last looked;
      // messages of this page that are not stored stay as they are
      var stored = loadState();
      if (stored.sessionId === state.sessionId &&
          stored.messages.length > state.messages.length) {
        state.messages = stored.messages;
      }
    }
    state.messages.push(message);
    touch();
    saveState();
    renderMessage(message);
  }

  function showNote(text) {
    renderMessage({ role: 'note', text: text, buttons: [] });
  }

  // ------------------------------------------------------- conversation
  var pending = [];       // payloads typed while the connection is down
  var sessionReady = false;
  var replyTimer = null;

  function setTyping(on) {
    typing.hidden = !on;
    clearTimeout(replyTimer);
    if (on) {
      replyTimer = setTimeout(function () {
        typing.hidden = true;
        var call = config.phone ? ' or call the office at ' + config.phone : '';
        showNote('No answer yet. Please try again in a moment' + call + '. In an emergency, call 911.');
      }, REPLY_TIMEOUT_MS);
    }
  }

  function transmit(text) {
    var sent = sessionReady && state.sessionId && socket.emit('user_uttered', {
      message: text, session_id: state.sessionId
    });
    if (!sent) {
      pending.push(text);
    }
  }

  function sendUserMessage(text, shown) {
    text = String(text).trim().slice(0, MAX_INPUT_CHARS);
    if (!text) {
      return;
    }
    // an answer to a question of the appointment form is not stored
    addMessage({ role: 'user', text: shown === undefined ? text : shown, buttons: [],
      private: state.privateReply });
    setTyping(true);
    transmit(text);
  }

  var startedState = null; // the conversation whose opening payload was sent

  function startConversationIfNew() {
    if (state.messages.length === 0 && config.initPayload && startedState !== state) {
      startedState = state;
      setTyping(true);
      transmit(config.initPayload);
    }
  }

  function onBotMessage(data) {
    // Not while (re)joining a session: e.g. late answers from before "Start over".
    if (!sessionReady || !data || typeof data !== 'object') {
      return;
    }
    var text = typeof data.text === 'string' ? data.text : '';
    var buttons = validButtons(data.quick_replies || data.buttons);
    if (!text && !buttons.length) {
      return; // images, custom payloads: not used by this assistant
    }
    setTyping(false);
    // the latest bot message decides whether the patient's next one is a form answer
    state.privateReply = data.private_reply === true;
    addMessage({ role: 'bot', text: text, buttons: buttons, private: data.private === true });
  }

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  var socket = new SocketClient(config.serverUrl, config.socketPath, {
    connect: function () {
      sessionReady = false;
      expireIfIdle();
      socket.emit('session_request', { session_id: state.sessionId });
    },
    disconnect: function (wasConnected) {
      sessionReady = false;
      setStatus(wasConnected ? 'Connection lost. Reconnecting…' : 'Connecting…');
    },
    event: function (name, data) {
      if (name === 'session_confirm') {
        if (typeof data === 'string' && data !== state.sessionId) {
          state.sessionId = data; // a new conversation, or the server replaced an unusable id
          saveState();
        }
        sessionReady = true;
        setStatus('');
        var queued = pending;
        pending = [];
        queued.forEach(transmit);
      } else if (name === 'bot_uttered') {
        onBotMessage(data);
      }
    }
  });

  // ------------------------------------------------------------ controls
  function openPanel(focus) {
    expireIfIdle();
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    state.open = true;
    saveState();
    if (socket.stopped) {
      setStatus('Connecting…');
      socket.start();
    }
    startConversationIfNew();
    scrollToEnd();
    if (focus) {
      input.focus();
    }
  }

  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    state.open = false;
    saveState();
    launcher.focus();
  }

  // A new, empty conversation: the old one is cleared from the page and storage
  // and the server mints a new session id.
  function resetConversation(open) {
    state = freshState(open);
    forgetStored();
    pending = [];
    renderHistory();
    setTyping(false);
    sessionReady = false;
    if (socket.connected) {
      socket.emit('session_request', { session_id: null });
    }
  }

  function startOver() {
    resetConversation(true);
    saveState();
    startConversationIfNew();
    input.focus();
  }

  // 30 minutes without activity (e.g. a shared computer left open): forget the
  // conversation here too, not only in storage.
  function expireIfIdle() {
    if (state.messages.length && Date.now() - state.t > IDLE_EXPIRY_MS) {
      var open = state.open;
      resetConversation(open);
      if (open) {
        showNote('This conversation was cleared after 30 minutes without activity.');
      }
    }
  }
  setInterval(expireIfIdle, 60000);

  launcher.addEventListener('click', function () {
    if (panel.hidden) {
      openPanel(true);
    } else {
      closePanel();
    }
  });
  closeButton.addEventListener('click', closePanel);
  restart.addEventListener('click', startOver);
  panel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') {
      closePanel();
    }
  });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    expireIfIdle();
    var text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    input.value = '';
    sendUserMessage(text);
  });
  window.addEventListener('online', function () { socket.retryNow(); });
  // Another tab (data-storage="local") started over or chatted: follow it.
  window.addEventListener('storage', function (event) {
    if (event.key === STORE_KEY && event.storageArea === storage) {
      var open = state.open;
      state = loadState();
      state.open = open;
      renderHistory();
    }
  });

  function mount() {
    wrapper.style.setProperty('--achw-color', config.color);
    wrapper.style.setProperty('--achw-on-color', contrastText(config.color));
    document.body.appendChild(host);
    renderHistory();
    setStatus('');
    if (state.open) {
      openPanel(false);
    }
  }

  if (document.body) {
    mount();
  } else {
    document.addEventListener('DOMContentLoaded', mount);
  }
})();
