// The widget's conversation: session with the server, the patient's messages
// (queued while disconnected), bot answers, the typing indicator and "no answer
// yet" note, open/close, Start over and the 30-minute idle expiry.
//
// Security: message text is put into the page only with textContent and DOM
// nodes (never innerHTML); links are limited to http(s) and tel:. The session
// id is minted and signed by the server. Answers to the appointment form and
// the bot messages that repeat them (marked "private_reply" / "private" by the
// server) are shown but never written to browser storage (history.js).
//
// Language (issue 19): the widget speaks the page's language (data-lang or
// <html lang>: English or Spanish) until the patient uses the English/Español
// switch; the switch sends a short greeting in the new language, shown as the
// patient's message, so the assistant continues in it (the server answers in
// the language the patient writes in).

import { openConnection } from './connection.js';
import { IDLE_EXPIRY_MS, freshState, openHistory, validButtons } from './history.js';
import { STRINGS, languageOf } from './strings.js';
import { MAX_INPUT_CHARS, buildView } from './view.js';

var REPLY_TIMEOUT_MS = 45000;

// config: the embed tag's settings, read by widget.js.
export function start(config) {
  var store = openHistory(config.serverUrl, config.storage);
  var state = store.load();
  var view = buildView(config, function (button) {
    sendUserMessage(button.payload, button.title);
  });
  var lang = languageOf(state.lang || config.lang);
  view.setLanguage(lang);

  function words() {
    return STRINGS[lang];
  }

  var pending = [];       // payloads typed while the connection is down
  var sessionReady = false;
  var replyTimer = null;
  var startedState = null; // the conversation whose opening payload was sent

  function saveState() {
    store.save(state);
  }

  function addMessage(message) {
    if (config.storage === 'local') {
      // another tab of this site may have added messages since we last looked;
      // messages of this page that are not stored stay as they are
      var stored = store.load();
      if (stored.sessionId === state.sessionId &&
          stored.messages.length > state.messages.length) {
        state.messages = stored.messages;
      }
    }
    state.messages.push(message);
    state.t = Date.now();
    saveState();
    view.renderMessage(message);
  }

  function showNote(text) {
    view.renderMessage({ role: 'note', text: text, buttons: [] });
  }

  function setTyping(on) {
    view.showTyping(on);
    clearTimeout(replyTimer);
    if (on) {
      replyTimer = setTimeout(function () {
        view.showTyping(false);
        var call = config.phone ? words().orCall + config.phone : '';
        showNote(words().noAnswer + call + words().emergency);
      }, REPLY_TIMEOUT_MS);
    }
  }

  function transmit(text) {
    var sent = sessionReady && state.sessionId && connection.emit('user_uttered', {
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

  function startConversationIfNew() {
    if (state.messages.length === 0 && config.initPayload && startedState !== state) {
      startedState = state;
      setTyping(true);
      // in Spanish, the default opening greets in Spanish, so the answers are too
      transmit(lang !== 'en' && config.initPayload === '/greet' ? words().hello : config.initPayload);
    }
  }

  // The English/Español switch: the widget's words, then a greeting in that
  // language (the patient's message), which the assistant answers in it.
  function switchLanguage() {
    lang = words().switchTo;
    state.lang = lang;
    saveState();
    view.setLanguage(lang);
    expireIfIdle();
    sendUserMessage(words().hello);
    view.input.focus();
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

  function onSessionConfirm(sessionId) {
    if (typeof sessionId === 'string' && sessionId !== state.sessionId) {
      state.sessionId = sessionId; // a new conversation, or the server replaced an unusable id
      saveState();
    }
    sessionReady = true;
    view.setStatus('');
    var queued = pending;
    pending = [];
    queued.forEach(transmit);
  }

  var connection = openConnection(config.serverUrl, config.socketPath, {
    connect: function () {
      sessionReady = false;
      expireIfIdle();
      connection.emit('session_request', { session_id: state.sessionId });
    },
    disconnect: function (wasConnectedBefore) {
      sessionReady = false;
      view.setStatus(wasConnectedBefore ? words().reconnecting : words().connecting);
    },
    event: function (name, data) {
      if (name === 'session_confirm') {
        onSessionConfirm(data);
      } else if (name === 'bot_uttered') {
        onBotMessage(data);
      }
    }
  });

  function openPanel(focus) {
    expireIfIdle();
    view.showPanel(true);
    state.open = true;
    saveState();
    if (!connection.isStarted()) {
      view.setStatus(words().connecting);
      connection.start();
    }
    startConversationIfNew();
    view.scrollToEnd();
    if (focus) {
      view.input.focus();
    }
  }

  function closePanel() {
    view.showPanel(false);
    state.open = false;
    saveState();
    view.launcher.focus();
  }

  // A new, empty conversation: the old one is cleared from the page and storage
  // and the server mints a new session id.
  function resetConversation(open) {
    state = freshState(open);
    state.lang = lang === languageOf(config.lang) ? null : lang; // the patient's choice stays
    store.forget();
    pending = [];
    view.renderHistory(state.messages);
    setTyping(false);
    sessionReady = false;
    if (connection.isConnected()) {
      connection.emit('session_request', { session_id: null });
    }
  }

  function startOver() {
    resetConversation(true);
    saveState();
    startConversationIfNew();
    view.input.focus();
  }

  // 30 minutes without activity (e.g. a shared computer left open): forget the
  // conversation here too, not only in storage.
  function expireIfIdle() {
    if (state.messages.length && Date.now() - state.t > IDLE_EXPIRY_MS) {
      var open = state.open;
      resetConversation(open);
      if (open) {
        showNote(words().cleared);
      }
    }
  }
  setInterval(expireIfIdle, 60000);

  view.launcher.addEventListener('click', function () {
    if (view.isPanelOpen()) {
      closePanel();
    } else {
      openPanel(true);
    }
  });
  view.closeButton.addEventListener('click', closePanel);
  view.restart.addEventListener('click', startOver);
  view.language.addEventListener('click', switchLanguage);
  view.panel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') {
      closePanel();
    }
  });
  view.form.addEventListener('submit', function (event) {
    event.preventDefault();
    expireIfIdle();
    var text = view.input.value;
    if (!text.trim()) {
      view.input.focus();
      return;
    }
    view.input.value = '';
    sendUserMessage(text);
  });
  window.addEventListener('online', function () { connection.retryNow(); });
  // Another tab (data-storage="local") started over or chatted: follow it.
  window.addEventListener('storage', function (event) {
    if (store.isOurs(event)) {
      var open = state.open;
      state = store.load();
      state.open = open;
      if (state.lang && state.lang !== lang) {
        lang = state.lang;
        view.setLanguage(lang);
      }
      view.renderHistory(state.messages);
    }
  });

  function mount() {
    view.mount();
    view.renderHistory(state.messages);
    view.setStatus('');
    if (state.open) {
      openPanel(false);
    }
  }

  if (document.body) {
    mount();
  } else {
    document.addEventListener('DOMContentLoaded', mount);
  }
}
