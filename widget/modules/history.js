// The conversation as the browser keeps it: one record per chat server in
// sessionStorage (or localStorage with data-storage="local").
//
// Record: {v, sessionId, open, t (last activity, ms), privateReply, lang, messages};
// lang: the language the patient chose with the widget's switch ("en", "es"), or
// null (the page's).
// Version 2: server-signed session ids, no form answers; older records are
// removed unread. Messages marked private (appointment-form answers and the bot
// messages repeating them) are stored as a placeholder, never as text.

export var IDLE_EXPIRY_MS = 30 * 60 * 1000; // stored history is forgotten after this long idle
export var NOT_KEPT = '(Not saved on this device, for your privacy.)';

var STORE_VERSION = 2;
var MAX_STORED_MESSAGES = 200;

export function validButtons(list) {
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

export function freshState(open) {
  // no session id yet: the server mints one on session_request
  return { v: STORE_VERSION, sessionId: null, open: open === true, t: Date.now(),
    privateReply: false, lang: null, messages: [] };
}

// What may be written to storage: private messages become a placeholder.
function storable(m) {
  if (m.private) {
    return { role: m.role, text: NOT_KEPT, buttons: [] };
  }
  return { role: m.role, text: m.text, buttons: m.buttons };
}

function pickStorage(kind, key) {
  try {
    var s = kind === 'local' ? window.localStorage : window.sessionStorage;
    var probe = key + ':probe';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch (e) {
    return null; // storage blocked: the conversation lives as long as the page
  }
}

function usable(raw) {
  return raw.v === STORE_VERSION && typeof raw.t === 'number' &&
    Date.now() - raw.t <= IDLE_EXPIRY_MS && Array.isArray(raw.messages) &&
    (raw.sessionId === null || (typeof raw.sessionId === 'string' &&
      /^[A-Za-z0-9_-]{16,128}$/.test(raw.sessionId)));
}

// The store of one chat server: load() gives a state (a fresh one if nothing
// usable is stored), save(state) writes it, forget() removes it.
export function openHistory(serverUrl, kind) {
  var key = 'achilles-chat:' + serverUrl;
  var storage = pickStorage(kind, key);

  function forget() {
    try {
      storage.removeItem(key);
    } catch (e) { /* nothing stored */ }
  }

  function load() {
    var fresh = freshState(false);
    if (!storage) {
      return fresh;
    }
    try {
      var raw = JSON.parse(storage.getItem(key) || 'null');
      if (!raw) {
        return fresh;
      }
      if (!usable(raw)) {
        forget(); // expired, or an older format that may hold form answers
        return fresh;
      }
      return {
        v: STORE_VERSION,
        sessionId: raw.sessionId,
        open: raw.open === true,
        t: raw.t,
        privateReply: raw.privateReply === true,
        lang: raw.lang === 'en' || raw.lang === 'es' ? raw.lang : null,
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

  function save(state) {
    if (!storage) {
      return;
    }
    state.messages = state.messages.slice(-MAX_STORED_MESSAGES);
    try {
      storage.setItem(key, JSON.stringify({
        v: STORE_VERSION, sessionId: state.sessionId, open: state.open, t: state.t,
        privateReply: state.privateReply, lang: state.lang || null,
        messages: state.messages.map(storable)
      }));
    } catch (e) { /* quota: keep going without saving */ }
  }

  // A storage event of another tab about this record (data-storage="local").
  function isOurs(event) {
    return event.key === key && event.storageArea === storage;
  }

  return { load: load, save: save, forget: forget, isOurs: isOurs };
}
